// PCP request encoding (RFC 6887 §7.1, §11.1, §13, §14.1): a MAP or ANNOUNCE request written
// into the caller's buffer, and the RFC's names of the result codes.
//
// Request header (§7.1), then the MAP body (§11.1), then options (§7.3):
//   |  Version = 2  |R|   Opcode    |         Reserved              |
//   |                 Requested Lifetime (32 bits)                  |
//   |            PCP Client's IP Address (128 bits)                 |
//   |                 Mapping Nonce (96 bits)                       |
//   |   Protocol    |          Reserved (24 bits)                   |
//   |        Internal Port          |    Suggested External Port    |
//   |           Suggested External IP Address (128 bits)            |
//   | Option Code   |  Reserved     |       Option Length           |  data, padded to 4
#include "punch/wire/pcp.hpp"

#include "wire/pcp_bytes.hpp"
#include "wire/stun_bytes.hpp"

#include <algorithm>
#include <limits>

namespace punch::pcp {

namespace {

using stun::detail::write_u16;
using stun::detail::write_u32;

using detail::option_header_size;

bool fits_u32(std::chrono::seconds s) noexcept {
  return s.count() >= 0 && s.count() <= std::numeric_limits<std::uint32_t>::max();
}

// The common header; the reserved bytes are zero (§7.1: MUST be sent as 0).
void write_header(std::byte* p, opcode op, std::chrono::seconds lifetime, const address& client) noexcept {
  p[0] = std::byte{version};
  p[1] = static_cast<std::byte>(op);  // R = 0: a request
  write_u16(p + 2, 0);
  write_u32(p + 4, static_cast<std::uint32_t>(lifetime.count()));
  detail::write_address(p + 8, client);
}

std::byte* write_option_header(std::byte* p, std::uint8_t code, std::uint16_t length) noexcept {
  p[0] = std::byte{code};
  p[1] = std::byte{0};
  write_u16(p + 2, length);
  return p + option_header_size;
}

}  // namespace

std::string_view name(result_code r) noexcept {
  switch (r) {
    case result_code::success: return "SUCCESS";
    case result_code::unsupp_version: return "UNSUPP_VERSION";
    case result_code::not_authorized: return "NOT_AUTHORIZED";
    case result_code::malformed_request: return "MALFORMED_REQUEST";
    case result_code::unsupp_opcode: return "UNSUPP_OPCODE";
    case result_code::unsupp_option: return "UNSUPP_OPTION";
    case result_code::malformed_option: return "MALFORMED_OPTION";
    case result_code::network_failure: return "NETWORK_FAILURE";
    case result_code::no_resources: return "NO_RESOURCES";
    case result_code::unsupp_protocol: return "UNSUPP_PROTOCOL";
    case result_code::user_ex_quota: return "USER_EX_QUOTA";
    case result_code::cannot_provide_external: return "CANNOT_PROVIDE_EXTERNAL";
    case result_code::address_mismatch: return "ADDRESS_MISMATCH";
    case result_code::excessive_remote_peers: return "EXCESSIVE_REMOTE_PEERS";
  }
  return "UNKNOWN";
}

std::size_t encoded_size(const map_request& r) noexcept {
  return header_size + map_body_size + (r.prefer_failure ? option_header_size : 0) +
         (r.third_party ? option_header_size + detail::address_size : 0);
}

std::span<std::byte> encode(const map_request& r, std::span<std::byte> out, error_code& ec) noexcept {
  const std::size_t size = encoded_size(r);
  if (out.size() < size) {
    ec = errc::pcp_buffer_too_small;
    return {};
  }
  if (!fits_u32(r.lifetime)) {
    ec = errc::pcp_bad_request;
    return {};
  }
  std::byte* p = out.data();
  write_header(p, opcode::map, r.lifetime, r.client);
  p += header_size;
  std::copy(r.nonce.begin(), r.nonce.end(), p);
  p[12] = std::byte{r.protocol};
  std::fill_n(p + 13, 3, std::byte{0});
  write_u16(p + 16, r.internal_port);
  write_u16(p + 18, r.suggested_external_port);
  detail::write_address(p + 20, r.suggested_external_address);
  p += map_body_size;
  // §13.1 THIRD_PARTY before §13.2 PREFER_FAILURE: the order is free, this one is fixed so
  // that the bytes are.
  if (r.third_party) {
    p = write_option_header(p, option::third_party, detail::address_size);
    detail::write_address(p, *r.third_party);
    p += detail::address_size;
  }
  if (r.prefer_failure) p = write_option_header(p, option::prefer_failure, 0);
  ec.clear();
  return out.first(size);
}

std::span<std::byte> encode_announce(const address& client, std::span<std::byte> out, error_code& ec) noexcept {
  if (out.size() < header_size) {
    ec = errc::pcp_buffer_too_small;
    return {};
  }
  write_header(out.data(), opcode::announce, std::chrono::seconds{0}, client);
  ec.clear();
  return out.first(header_size);
}

}  // namespace punch::pcp
