// The demo's story: register, connect and accept, messages both ways, close, and the result.
#pragma once

#include "narrator.hpp"
#include "options.hpp"
#include "topology.hpp"

#include <boost/asio/awaitable.hpp>

namespace punch_demo {

// Exit status of punch-demo.
inline constexpr int exit_ok = 0;             // connected, messages went both ways, closed
inline constexpr int exit_error = 1;          // something unexpected (an exception)
inline constexpr int exit_bad_options = 2;    // the command line was wrong
inline constexpr int exit_no_connection = 3;  // no direct connection, or no message got through

// Names the world's endpoints and NATs for `say` and attaches it to the network's and the
// sessions' events.
void narrate(world& w, narrator& say);

// Tells the whole story on `w`; returns the exit status. Throws only for the unexpected.
boost::asio::awaitable<int> run(world& w, narrator& say, const options& o);

}  // namespace punch_demo
