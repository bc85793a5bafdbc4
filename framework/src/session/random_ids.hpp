// Random identifiers of the peer session: transaction ids, tie-breakers, and the hash of
// random byte arrays that its maps key on (private header).
#pragma once

#include "punch/wire/stun.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace punch::detail {

// Transaction ids and tokens are random, so their first 8 bytes are a good hash.
struct random_bytes_hash {
  template <std::size_t N>
  std::size_t operator()(const std::array<std::byte, N>& a) const noexcept {
    std::size_t h = 0;
    std::memcpy(&h, a.data(), sizeof h < N ? sizeof h : N);
    return h;
  }
};
stun::transaction_id random_transaction_id();
std::uint64_t random_u64();

}  // namespace punch::detail
