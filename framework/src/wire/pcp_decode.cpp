// PCP response decoding (RFC 6887 §7.2, §7.3, §8.3, §9, §11.1): every length checked before
// the bytes behind it are read; ANNOUNCE and MAP answers decoded, anything else refused.
#include "punch/wire/pcp.hpp"

#include "wire/pcp_bytes.hpp"
#include "wire/stun_bytes.hpp"

#include <algorithm>

namespace punch::pcp {

namespace {

using stun::detail::padded;
using stun::detail::read_u16;
using stun::detail::read_u32;

using detail::option_header_size;
constexpr std::byte r_bit{0x80};

// The length an option of a known code must have, or -1 when any length will do.
constexpr long required_length(std::uint8_t code) noexcept {
  switch (code) {
    case option::third_party: return static_cast<long>(detail::address_size);
    case option::prefer_failure: return 0;
    case option::filter: return 20;  // §13.3
    default: return -1;
  }
}

// §7.3: options follow the body; each is a 4-byte header and its data padded to 4 bytes.
error_code decode_options(std::span<const std::byte> rest, response& r) noexcept {
  while (!rest.empty()) {
    if (rest.size() < option_header_size) return errc::pcp_bad_option;
    const auto code = std::to_integer<std::uint8_t>(rest[0]);
    const std::size_t length = read_u16(rest.data() + 2);
    if (padded(length) > rest.size() - option_header_size) return errc::pcp_bad_option;
    const long required = required_length(code);
    if (required >= 0 && static_cast<long>(length) != required) return errc::pcp_bad_option;
    // RFC 6887 §7.3: "PCP clients MUST ignore Options that they do not understand that appear
    // in responses, including Options in the mandatory-to-process range": the client cannot
    // reject a response, so an unknown option of either range is skipped by its length.
    const std::byte* data = rest.data() + option_header_size;
    if (code == option::third_party) r.third_party = detail::read_address(data);
    if (code == option::prefer_failure) r.prefer_failure = true;
    rest = rest.subspan(option_header_size + padded(length));
  }
  return {};
}

// §11.1, the same layout as the request's body with "assigned" for "suggested".
map_body decode_map_body(const std::byte* p) noexcept {
  map_body b;
  std::copy_n(p, b.nonce.size(), b.nonce.begin());
  b.protocol = std::to_integer<std::uint8_t>(p[12]);
  b.internal_port = read_u16(p + 16);
  b.external_port = read_u16(p + 18);
  b.external_address = detail::read_address(p + 20);
  return b;
}

error_code check_framing(std::span<const std::byte> bytes) noexcept {
  // §8.3: the client MUST silently discard a response shorter than 4 octets, longer than
  // 1100, or not a multiple of 4.
  if (bytes.size() < 4) return errc::truncated;
  if (bytes.size() > max_message_size || bytes.size() % 4 != 0) return errc::pcp_bad_length;
  // §9: a NAT-PMP gateway answers a PCP request with its version 0 and UNSUPP_VERSION
  // (RFC 6886 §3.5) in an 8-byte header; the version is read before the PCP header's size is
  // required so that this answer is recognised, and the caller falls back to NAT-PMP.
  if (bytes[0] != std::byte{version}) return errc::pcp_unsupported_version;
  if (bytes.size() < header_size) return errc::truncated;
  if ((bytes[1] & r_bit) == std::byte{0}) return errc::pcp_not_a_response;
  return {};
}

std::optional<response> fail(error_code& ec, error_code e) noexcept {
  ec = e;
  return std::nullopt;
}

}  // namespace

std::optional<response> decode_response(std::span<const std::byte> bytes, error_code& ec) noexcept {
  if (const auto e = check_framing(bytes)) return fail(ec, e);
  response r;
  const auto op = std::to_integer<std::uint8_t>(bytes[1] & ~r_bit);
  if (op != static_cast<std::uint8_t>(opcode::announce) && op != static_cast<std::uint8_t>(opcode::map))
    return fail(ec, errc::pcp_unknown_opcode);
  r.opcode = static_cast<opcode>(op);
  r.result = static_cast<result_code>(std::to_integer<std::uint8_t>(bytes[3]));
  r.lifetime = std::chrono::seconds{read_u32(bytes.data() + 4)};
  r.epoch = std::chrono::seconds{read_u32(bytes.data() + 8)};
  auto rest = bytes.subspan(header_size);
  if (r.opcode == opcode::map) {
    // An error answer may be the header alone (a gateway that could not parse our body);
    // a success must carry what was assigned.
    const bool header_only_error = rest.empty() && r.result != result_code::success;
    if (!header_only_error) {
      if (rest.size() < map_body_size) return fail(ec, errc::truncated);
      r.map = decode_map_body(rest.data());
      rest = rest.subspan(map_body_size);
    }
  }
  if (const auto e = decode_options(rest, r)) return fail(ec, e);
  ec.clear();
  return r;
}

}  // namespace punch::pcp
