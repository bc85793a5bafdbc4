// Helpers for the PCP codec's tests: byte vectors written out as the RFC's figures draw them,
// and a gateway's answer made from a request (what a PCP server does, RFC 6887 §8.2, §11.3).
#pragma once

#include "punch/wire/pcp.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <stdexcept>
#include <vector>

namespace punch::pcp::test {

using bytes = std::vector<std::byte>;

inline bytes of(std::initializer_list<int> values) {
  bytes out;
  for (const int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

inline bytes cat(std::initializer_list<bytes> parts) {
  bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

inline const nonce some_nonce = [] {
  nonce n;
  for (std::size_t i = 0; i < n.size(); ++i) n[i] = static_cast<std::byte>(0xA0 + i);
  return n;
}();

// A MAP success response from the RFC 6887 §7.2 and §11.1 figures: lifetime 7200 (0x1C20),
// epoch 1000 (0x3E8), UDP, internal port 40000 (0x9C40), external 203.0.113.9:50000 (0xC350).
inline bytes map_success() {
  return cat({
      of({0x02, 0x81, 0x00, 0x00}),              // version 2, R=1 | MAP, reserved, SUCCESS
      of({0x00, 0x00, 0x1C, 0x20}),              // lifetime
      of({0x00, 0x00, 0x03, 0xE8}),              // epoch time
      bytes(12, std::byte{0}),                   // reserved (96 bits)
      of({0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xAB}),  // nonce
      of({0x11, 0x00, 0x00, 0x00}),              // protocol 17, reserved (24 bits)
      of({0x9C, 0x40, 0xC3, 0x50}),              // internal port, assigned external port
      bytes(10, std::byte{0}), of({0xFF, 0xFF, 203, 0, 113, 9}),  // ::ffff:203.0.113.9
  });
}

// An option (RFC 6887 §7.3): code, reserved, length, data padded to 4 bytes.
inline bytes option_bytes(int code, bytes data) {
  const auto length = data.size();
  bytes out = of({code, 0, static_cast<int>(length >> 8), static_cast<int>(length & 0xFF)});
  out.insert(out.end(), data.begin(), data.end());
  out.resize(out.size() + (4 - length % 4) % 4, std::byte{0});
  return out;
}

// The gateway's side: copies the request's MAP body, sets R, the result, the lifetime and the
// epoch, and writes the assigned port and address.
inline bytes answer(std::span<const std::byte> request, result_code result, std::uint32_t lifetime,
                    std::uint32_t epoch, std::uint16_t port, std::span<const std::byte, 16> external) {
  bytes out(request.begin(), request.end());
  out[1] |= std::byte{0x80};
  out[2] = std::byte{0};
  out[3] = static_cast<std::byte>(result);
  for (int i = 0; i < 4; ++i) {
    out[4 + i] = static_cast<std::byte>(lifetime >> (24 - 8 * i));
    out[8 + i] = static_cast<std::byte>(epoch >> (24 - 8 * i));
  }
  std::fill(out.begin() + 12, out.begin() + header_size, std::byte{0});
  out[header_size + 18] = static_cast<std::byte>(port >> 8);
  out[header_size + 19] = static_cast<std::byte>(port & 0xFF);
  std::copy(external.begin(), external.end(), out.begin() + header_size + 20);
  return out;
}

inline std::optional<response> decode_ok(std::span<const std::byte> b) {
  error_code ec;
  auto r = decode_response(b, ec);
  if (!r || ec) throw std::runtime_error("decode_response failed: " + ec.message());
  return r;
}

inline error_code decode_error(std::span<const std::byte> b) {
  error_code ec;
  const auto r = decode_response(b, ec);
  // A decoder either succeeds with ec clear or fails with ec set, never both or neither.
  if (r.has_value() == static_cast<bool>(ec)) throw std::runtime_error("decode_response: result and ec disagree");
  return ec;
}

}  // namespace punch::pcp::test
