// punch-peer --stream: stdin out as one reliable byte stream, the peer's stream to stdout.
#pragma once

#include "events.hpp"

#include "punch/connection.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>

namespace punch::peer_app {

struct stream_totals {
  std::uint64_t sent = 0, received = 0;
};

// The side that connected opens the stream, the other accepts it; both then copy stdin into
// it and it into stdout at once. Ends when both directions are complete: our end of input
// delivered (the stream's graceful close) and the peer's read to its eof. Throws
// system_error when the connection or a descriptor fails first.
asio::awaitable<stream_totals> pipe_stream(connection c, bool opener);

}  // namespace punch::peer_app
