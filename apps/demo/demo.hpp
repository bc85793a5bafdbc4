// The demo's story: build the network, learn reflexive addresses, punch, report.
#pragma once

#include "options.hpp"

#include <boost/asio/awaitable.hpp>

namespace punch_demo {

// Exit status of punch-demo.
inline constexpr int exit_ok = 0;               // both directions got through
inline constexpr int exit_error = 1;            // something unexpected (an exception)
inline constexpr int exit_bad_options = 2;      // the command line was wrong
inline constexpr int exit_punch_failed = 3;     // at least one direction never got through

// Runs the whole demo on the calling coroutine's executor; returns the exit status.
boost::asio::awaitable<int> run(options o);

}  // namespace punch_demo
