// punch-peer's work: resolve the broker, register, connect or accept, then relay lines.
#pragma once

#include "options.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>

namespace punch::peer_app {

// Returns the process exit code (see options.hpp); every failure has been reported on stderr
// (and as an --events "error") by then. `start` is what --events' "ms" counts from.
asio::awaitable<int> run_peer(const peer_options& options,
                              std::chrono::steady_clock::time_point start);

}  // namespace punch::peer_app
