// Repairs a fuzzed datagram the way a real sender would have built it, so that mutations get
// past the checks a random byte string almost never passes (the length field, FINGERPRINT's
// CRC-32, a transaction id or token the receiver is waiting for, a frame's connection tag)
// and reach the code behind them. Each fixup is chosen per datagram by a bit of the input.
#pragma once

#include "punch/wire/protocol.hpp"
#include "punch/wire/stun.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace fuzz {

namespace stun = punch::stun;
namespace wire = punch::wire;

inline std::uint16_t read_u16(std::span<const std::byte> d, std::size_t at) {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(d[at]) << 8) | std::to_integer<unsigned>(d[at + 1]));
}

// The header's length field says what follows the header (when that is a multiple of 4).
inline void fix_length(std::span<std::byte> d) {
  if (d.size() < stun::header_size || (d.size() - stun::header_size) % 4 != 0 || d.size() > 0xFFFF) return;
  const std::size_t n = d.size() - stun::header_size;
  d[2] = std::byte(n >> 8);
  d[3] = std::byte(n & 0xFF);
}

// A trailing FINGERPRINT attribute gets the right CRC-32.
inline void fix_fingerprint(std::span<std::byte> d) {
  if (d.size() < stun::header_size + stun::fingerprint_size) return;
  const std::size_t at = d.size() - stun::fingerprint_size;
  if (read_u16(d, at) != stun::attr::fingerprint || read_u16(d, at + 2) != 4) return;
  const std::uint32_t v = stun::fingerprint_of(d.first(at));
  for (int i = 0; i < 4; ++i) d[at + 4 + i] = std::byte(v >> (24 - 8 * i));
}

inline void set_transaction_id(std::span<std::byte> d, const stun::transaction_id& id) {
  if (d.size() >= stun::header_size) std::copy(id.begin(), id.end(), d.begin() + 8);
}

// Every 16-byte TOKEN attribute gets `token`.
inline void set_token(std::span<std::byte> d, const wire::token& token) {
  std::size_t at = stun::header_size;
  while (at + 4 <= d.size()) {
    const std::uint16_t type = read_u16(d, at), len = read_u16(d, at + 2);
    if (at + 4 + len > d.size()) return;
    if (type == wire::attr::token && len == wire::token_size)
      std::copy(token.begin(), token.end(), d.begin() + static_cast<std::ptrdiff_t>(at + 4));
    at += 4 + ((len + 3u) & ~3u);
  }
}

// A data frame gets the connection tag of `token`.
inline void set_frame_tag(std::span<std::byte> d, const wire::token& token) {
  if (d.size() < wire::frame_header_size) return;
  const auto tag = wire::tag_of(token);
  for (int i = 0; i < 4; ++i) d[1 + i] = std::byte(tag >> (24 - 8 * i));
}

// The STUN class bits of a datagram's first two bytes (RFC 8489 §5).
inline stun::message_class class_of(std::span<const std::byte> d) {
  const unsigned type = read_u16(d, 0);
  return static_cast<stun::message_class>(((type >> 7) & 2) | ((type >> 4) & 1));
}

}  // namespace fuzz
