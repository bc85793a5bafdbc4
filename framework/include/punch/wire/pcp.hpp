// PCP, the Port Control Protocol (RFC 6887): a MAP (and ANNOUNCE) request encoder into a
// caller-supplied buffer and a response decoder that checks every length before it reads.
// Neither allocates. Knows bytes and messages, never sockets or time; the session's port mapping
// (issue 17) sends these to the gateway's port 5351 and keeps the timers.
//
// Response header (RFC 6887 §7.2), 24 bytes:
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  Version = 2  |R|   Opcode    |   Reserved    |  Result Code  |
//   |                      Lifetime (32 bits)                       |
//   |                     Epoch Time (32 bits)                      |
//   |                      Reserved (96 bits)                       |
//   :             (optional) Opcode-specific response data          :
//   :             (optional) Options                                :
#pragma once

#include "punch/export.hpp"

#include "punch/error.hpp"

#include <boost/asio/ip/address.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace punch::pcp {

using address = boost::asio::ip::address;

inline constexpr std::uint8_t version = 2;               // RFC 6887 §7
inline constexpr std::uint16_t server_port = 5351;       // RFC 6887 §19.1
inline constexpr std::size_t max_message_size = 1100;    // RFC 6887 §7
inline constexpr std::size_t header_size = 24;           // request §7.1 and response §7.2 alike
inline constexpr std::size_t map_body_size = 36;         // RFC 6887 §11.1
inline constexpr std::uint8_t protocol_udp = 17;         // IANA protocol number

// RFC 6887 §19.2. This codec decodes ANNOUNCE and MAP answers; PEER is not used by punch.
enum class opcode : std::uint8_t { announce = 0, map = 1, peer = 2 };

// RFC 6887 §7.4, with the RFC's names in lower case.
enum class result_code : std::uint8_t {
  success = 0,
  unsupp_version = 1,
  not_authorized = 2,
  malformed_request = 3,
  unsupp_opcode = 4,
  unsupp_option = 5,
  malformed_option = 6,
  network_failure = 7,
  no_resources = 8,
  unsupp_protocol = 9,
  user_ex_quota = 10,
  cannot_provide_external = 11,
  address_mismatch = 12,
  excessive_remote_peers = 13,
};

// The RFC's name of `r` ("SUCCESS", "NO_RESOURCES", …), or "UNKNOWN" for a code it does not
// assign; for logs and the port-mapping event.
PUNCH_EXPORT std::string_view name(result_code r) noexcept;

// Option codes (RFC 6887 §19.4); codes 0-127 are mandatory to process for a server (§7.3).
namespace option {
inline constexpr std::uint8_t third_party = 1;     // §13.1: 16-byte internal address
inline constexpr std::uint8_t prefer_failure = 2;  // §13.2: no data
inline constexpr std::uint8_t filter = 3;          // §13.3: 20 bytes
constexpr bool mandatory(std::uint8_t code) noexcept { return code < 128; }
}  // namespace option

// A mapping nonce (§11.1): random per client, repeated in every renewal and deletion of the
// same mapping, so a gateway can tell its owner from an on-path guesser.
using nonce = std::array<std::byte, 12>;

// What a MAP request asks for (§11.1). IPv4 addresses are sent IPv4-mapped (§5).
struct map_request {
  // 0 deletes the mapping (§15); the gateway may grant less than asked.
  std::chrono::seconds lifetime{7200};
  // Our own address as the gateway sees it: the source address of the request's datagram.
  address client;
  pcp::nonce nonce{};
  std::uint8_t protocol = protocol_udp;
  std::uint16_t internal_port = 0;
  // 0 and the family's all-zeros address: no preference (§11.1).
  std::uint16_t suggested_external_port = 0;
  address suggested_external_address;
  // §13.2: fail instead of granting another port than the suggested one.
  bool prefer_failure = false;
  // §13.1: ask on behalf of another internal host; absent for our own socket.
  std::optional<address> third_party;
};

// Bytes a MAP request takes, with its options.
PUNCH_EXPORT std::size_t encoded_size(const map_request& r) noexcept;

// Writes the MAP request into `out` and returns the bytes written (a prefix of `out`).
// Errors: pcp_buffer_too_small when `out` is shorter than encoded_size(r); pcp_bad_request when
// a lifetime does not fit 32 bits. On error returns an empty span and leaves `out` unspecified.
PUNCH_EXPORT std::span<std::byte> encode(const map_request& r, std::span<std::byte> out, error_code& ec) noexcept;

// Writes an ANNOUNCE request (§14.1: the header only, lifetime 0) into `out`.
PUNCH_EXPORT std::span<std::byte> encode_announce(const address& client, std::span<std::byte> out,
                                                  error_code& ec) noexcept;

// The MAP response body (§11.1): the request's nonce, protocol and internal port echoed, and
// what the gateway assigned. IPv4-mapped addresses are returned as IPv4.
struct map_body {
  pcp::nonce nonce{};
  std::uint8_t protocol = 0;
  std::uint16_t internal_port = 0;
  std::uint16_t external_port = 0;
  address external_address;
};

// A decoded response. `lifetime` is the mapping's on success and how long the error holds
// otherwise (§7.2); `epoch` is seconds since the gateway's state began: a value that goes back
// means the gateway restarted and lost our mappings (§8.5).
struct response {
  pcp::opcode opcode = opcode::announce;
  result_code result = result_code::success;
  std::chrono::seconds lifetime{0};
  std::chrono::seconds epoch{0};
  // MAP only; absent when an error answer carries the header alone.
  std::optional<map_body> map;
  bool prefer_failure = false;
  std::optional<address> third_party;
};

// Decodes a PCP response. Errors (punch::errc), checked in this order:
//   truncated (< 4 bytes), pcp_bad_length (> 1100 or not a multiple of 4), pcp_unsupported_version
//   (any version but 2: a NAT-PMP gateway answers version 0, §9, and the caller falls back),
//   truncated (< 24 bytes, or a MAP success without its body), pcp_not_a_response (R bit clear),
//   pcp_unknown_opcode, pcp_bad_option (runs past the end, or a known option's length is wrong).
// Unknown options are skipped by their length, those in the mandatory-to-process range too: §7.3
// says a client MUST ignore them in responses. Reserved fields are ignored, as §7.2 asks. Does
// not compare the nonce: the caller does.
PUNCH_EXPORT std::optional<response> decode_response(std::span<const std::byte> bytes, error_code& ec) noexcept;

}  // namespace punch::pcp
