// Private to the PCP codec's two files: the option header's size (RFC 6887 §7.3) and the
// 128-bit address field (§5), which carries an IPv4 address IPv4-mapped (::ffff:a.b.c.d) and an
// IPv6 address as it is.
#pragma once

#include "punch/wire/pcp.hpp"

#include <algorithm>
#include <cstddef>

namespace punch::pcp::detail {

inline constexpr std::size_t address_size = 16;
inline constexpr std::size_t option_header_size = 4;

inline void write_address(std::byte* p, const address& a) noexcept {
  const auto v6 = a.is_v4() ? boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, a.to_v4()) : a.to_v6();
  const auto bytes = v6.to_bytes();
  std::transform(bytes.begin(), bytes.end(), p, [](unsigned char c) { return std::byte{c}; });
}

// Callers check that 16 bytes are there. An IPv4-mapped address comes back as IPv4, so it
// compares equal to the address the caller asked with.
inline address read_address(const std::byte* p) noexcept {
  boost::asio::ip::address_v6::bytes_type bytes;
  std::transform(p, p + address_size, bytes.begin(), [](std::byte b) { return std::to_integer<unsigned char>(b); });
  const boost::asio::ip::address_v6 v6{bytes};
  if (v6.is_v4_mapped()) return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6);
  return v6;
}

}  // namespace punch::pcp::detail
