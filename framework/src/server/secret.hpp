// The servers' random secret (server module): the key of the broker's NONCEs and
// REFRESH-CREDENTIALs and of the relay's NONCEs, when the caller gives none.
#pragma once

#include <array>
#include <cstddef>

namespace punch::detail {

using server_secret = std::array<std::byte, 32>;

// 32 bytes of libsodium's randombytes. Throws std::runtime_error if libsodium cannot start.
server_secret random_secret();

}  // namespace punch::detail
