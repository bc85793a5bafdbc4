// A candidate pair of a punch attempt: the peer's address and which of our sockets reaches
// it (private header).
#pragma once

#include "punch/connection.hpp"
#include "punch/transport.hpp"

#include <cstddef>

namespace punch::detail {

// A candidate pair: the peer's address, and which of our sockets reaches it (0: the
// session's socket; i > 0: the attempt's port-prediction socket i - 1).
struct remote_candidate {
  endpoint address;
  path_kind kind;
  std::size_t via = 0;
};

}  // namespace punch::detail
