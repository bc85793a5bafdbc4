// Helpers shared by the STUN codec tests: hex to bytes, parsing shorthands, and one routine
// that runs every decoder over a message and rebuilds it (also used by the random tests).
#pragma once

#include "stun_answer.hpp"

#include "punch/wire/stun.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <ostream>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace punch::stun::test {

using bytes = std::vector<std::byte>;

// "0001 0058 2112a442 ..." → bytes; whitespace is ignored so vectors read like the RFC.
inline bytes from_hex(std::string_view hex) {
  auto nibble = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::invalid_argument("bad hex digit");
  };
  bytes out;
  int high = -1;
  for (char c : hex) {
    if (c == ' ' || c == '\n') continue;
    if (high < 0) {
      high = nibble(c);
    } else {
      out.push_back(static_cast<std::byte>(high * 16 + nibble(c)));
      high = -1;
    }
  }
  if (high >= 0) throw std::invalid_argument("odd number of hex digits");
  return out;
}

// 0xA0..0xAB, the id written by with_header().
inline const transaction_id some_id = [] {
  transaction_id id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<std::byte>(0xA0 + i);
  return id;
}();

// A minimal valid header followed by `body` (the length field is set to body's size).
inline bytes with_header(const bytes& body, std::uint16_t type = 0x0001) {
  bytes out = from_hex("0000 0000 2112a442 a0a1a2a3 a4a5a6a7 a8a9aaab");
  out[0] = static_cast<std::byte>(type >> 8);
  out[1] = static_cast<std::byte>(type & 0xFF);
  out[2] = static_cast<std::byte>(body.size() >> 8);
  out[3] = static_cast<std::byte>(body.size() & 0xFF);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

// The errc a parse of `b` reports, or errc{} (0) when it succeeds.
inline errc parse_error(std::span<const std::byte> b, parse_options options = {}) {
  error_code ec;
  const auto m = message::parse(b, ec, options);
  BOOST_REQUIRE_EQUAL(m.has_value(), !ec);
  if (ec) BOOST_REQUIRE(ec.category() == punch::category());
  return static_cast<errc>(ec.value());
}

inline message parse_ok(std::span<const std::byte> b, parse_options options = {}) {
  error_code ec;
  auto m = message::parse(b, ec, options);
  BOOST_REQUIRE_MESSAGE(m.has_value(), "parse failed: " << ec.message());
  return *m;
}

// Runs every typed decoder on every attribute (each must either succeed with ec clear or
// fail with ec set), then rebuilds the message with the builder and checks that the copy
// parses to the same header and the same attributes. Returns false on any mismatch.
inline bool decode_everything_and_rebuild(const message& m) {
  for (const attribute a : m) {
    error_code ec;
    if (decode_xor_address(a, m.id(), ec).has_value() == bool(ec)) return false;
    if (decode_address(a, ec).has_value() == bool(ec)) return false;
    if (decode_error_code(a, ec).has_value() == bool(ec)) return false;
    if (decode_u32(a, ec).has_value() == bool(ec)) return false;
    if (decode_u64(a, ec).has_value() == bool(ec)) return false;
    if (decode_string(a, ec).has_value() == bool(ec)) return false;
    if (decode_string(a).size() != a.value.size()) return false;
  }
  std::array<std::byte, 65536 + header_size> buf;
  builder b{buf, m.cls(), m.method(), m.id()};
  for (const attribute a : m) {
    if (a.type != attr::fingerprint) b.add(a.type, a.value);
  }
  const auto out = m.has_fingerprint() ? b.finish_with_fingerprint() : b.finish();
  if (b.error()) return false;
  error_code ec;
  // Our builder pads with zeros, so the copy must pass the strict check too.
  const auto copy = message::parse(out, ec, {.padding = padding_check::require_zero});
  if (!copy || copy->method() != m.method() || copy->cls() != m.cls() || copy->id() != m.id() ||
      copy->has_fingerprint() != m.has_fingerprint() || out.size() != m.bytes().size()) {
    return false;
  }
  auto i = copy->begin();
  for (const attribute a : m) {
    if (i == copy->end()) return false;
    const attribute c = *i++;
    // FINGERPRINT differs when the original had non-zero padding; parse checked both.
    const bool same_value = a.type == attr::fingerprint ||
                            std::equal(c.value.begin(), c.value.end(), a.value.begin(), a.value.end());
    if (c.type != a.type || !same_value) return false;
  }
  return i == copy->end();
}

}  // namespace punch::stun::test
