// Private helpers shared by the STUN codec's files: big-endian reads and writes on byte
// spans, attribute padding, and the RFC 8489 size limits of the text attributes.
#pragma once

#include "punch/wire/stun.hpp"

#include <cstddef>
#include <cstdint>

namespace punch::stun::detail {

// Callers check bounds first; these only assemble or split the bytes (network order).
inline std::uint16_t read_u16(const std::byte* p) noexcept {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(p[0]) << 8) |
                                    std::to_integer<unsigned>(p[1]));
}

inline std::uint32_t read_u32(const std::byte* p) noexcept {
  return (std::uint32_t{read_u16(p)} << 16) | read_u16(p + 2);
}

inline void write_u16(std::byte* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::byte>(v >> 8);
  p[1] = static_cast<std::byte>(v & 0xFF);
}

inline void write_u32(std::byte* p, std::uint32_t v) noexcept {
  write_u16(p, static_cast<std::uint16_t>(v >> 16));
  write_u16(p + 2, static_cast<std::uint16_t>(v & 0xFFFF));
}

// RFC 8489 §14: values are padded to a multiple of 4 bytes.
constexpr std::size_t padded(std::size_t n) noexcept { return (n + 3) & ~std::size_t{3}; }

inline constexpr std::size_t attribute_header_size = 4;
// The 16-bit length field bounds both a value and the body of a message.
inline constexpr std::size_t max_length_field = 0xFFFF;

// Text attributes (USERNAME, REALM, NONCE, SOFTWARE; RFC 8489 §14.3, §14.9, §14.10, §14.14)
// and the ERROR-CODE reason phrase (§14.8): fewer than 128 characters, which is at most 509
// bytes when we encode and up to 763 bytes we must accept when we decode (USERNAME: fewer
// than 509 when encoding).
inline constexpr std::size_t max_text_size_decode = 763;
constexpr std::size_t max_text_size_encode(std::uint16_t type) noexcept {
  return type == attr::username ? 508 : 509;
}
constexpr bool is_text_attribute(std::uint16_t type) noexcept {
  return type == attr::username || type == attr::realm || type == attr::nonce ||
         type == attr::software;
}

}  // namespace punch::stun::detail
