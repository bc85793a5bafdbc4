// The NONCE of the broker and the relay (server module; docs/protocol.md, "NONCE"): 4 bytes of issue time and
// a 16-byte keyed BLAKE2b over that time and the requester's address and port. Stateless,
// like WireGuard's cookies: a NONCE proves that its holder receives what the broker sends to
// that address, and the broker keeps nothing per NONCE, so a spoofed source allocates nothing.
#pragma once

#include "punch/broker.hpp"
#include "punch/wire/protocol.hpp"

#include <sodium.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace punch::detail {

using nonce = std::array<std::byte, wire::nonce_size>;

// Seconds of the steady clock, modulo 2^32: only differences are used.
inline std::uint32_t seconds_of(std::chrono::steady_clock::time_point t) noexcept {
  return static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

// The issue time at the front of a NONCE or REFRESH-CREDENTIAL (at least 4 bytes).
inline std::uint32_t issue_time_of(std::span<const std::byte> value) noexcept {
  return (std::to_integer<std::uint32_t>(value[0]) << 24) | (std::to_integer<std::uint32_t>(value[1]) << 16) |
         (std::to_integer<std::uint32_t>(value[2]) << 8) | std::to_integer<std::uint32_t>(value[3]);
}

// True if `issued` is at most `lifetime` before `now` (modulo 2^32: a time "from the future"
// has a huge age and is stale).
inline bool fresh(std::uint32_t issued, std::chrono::steady_clock::time_point now, std::chrono::seconds lifetime) noexcept {
  const std::uint32_t age = seconds_of(now) - issued;
  return age <= static_cast<std::uint64_t>(lifetime.count());
}

// MAC inputs, written big-endian into a fixed buffer at `at`; each returns the new end.
inline constexpr std::size_t max_endpoint_bytes = 1 + 16 + 2;
template <std::size_t N>
std::size_t put_u32(std::array<unsigned char, N>& in, std::size_t at, std::uint32_t v) noexcept {
  in[at++] = static_cast<unsigned char>(v >> 24);
  in[at++] = static_cast<unsigned char>(v >> 16);
  in[at++] = static_cast<unsigned char>(v >> 8);
  in[at++] = static_cast<unsigned char>(v);
  return at;
}
// family (1: 4 or 6) ‖ address (4 or 16) ‖ port (2).
template <std::size_t N>
std::size_t put_endpoint(std::array<unsigned char, N>& in, std::size_t at, const endpoint& ep) noexcept {
  const auto a = ep.address();
  if (a.is_v4()) {
    in[at++] = 4;
    for (auto b : a.to_v4().to_bytes()) in[at++] = b;
  } else {
    in[at++] = 6;
    for (auto b : a.to_v6().to_bytes()) in[at++] = b;
  }
  in[at++] = static_cast<unsigned char>(ep.port() >> 8);
  in[at++] = static_cast<unsigned char>(ep.port() & 0xFF);
  return at;
}

class nonce_issuer {
public:
  using clock = std::chrono::steady_clock;

  explicit nonce_issuer(const broker_secret& secret) noexcept : secret_(secret) {}
  ~nonce_issuer() { sodium_memzero(secret_.data(), secret_.size()); }
  nonce_issuer(const nonce_issuer&) = delete;
  nonce_issuer& operator=(const nonce_issuer&) = delete;

  // A NONCE for `source` (unmapped: IPv4 as IPv4), issued at `now`.
  nonce issue(const endpoint& source, clock::time_point now) const noexcept;

  // The issue time of `value` if it is a NONCE this broker (or one sharing its secret) issued
  // for `source` at most `lifetime` before `now`. The age is checked first: it is public, and
  // cheaper.
  std::optional<std::uint32_t> valid(std::span<const std::byte> value, const endpoint& source,
                                     clock::time_point now, std::chrono::seconds lifetime) const noexcept;

  // True if issue time `a` is before `b` (modulo 2^32 seconds).
  static bool before(std::uint32_t a, std::uint32_t b) noexcept {
    return static_cast<std::int32_t>(a - b) < 0;
  }

private:
  static constexpr std::size_t mac_size = wire::nonce_size - 4;

  // BLAKE2b-128 keyed with the secret over time (4) ‖ family (1: 4 or 6) ‖ address (4 or
  // 16) ‖ port (2), all big-endian.
  void mac(std::uint32_t t, const endpoint& source, std::span<std::byte, mac_size> out) const noexcept;

  broker_secret secret_;
};

}  // namespace punch::detail
