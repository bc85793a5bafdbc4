// TURN (RFC 8656) on the STUN codec: its methods, attributes and error codes, the long-term
// credential key and MESSAGE-INTEGRITY (RFC 8489 §9.2, §14.5), and ChannelData framing (RFC 8656
// §12). Knows bytes and messages, never sockets or time; the session's TURN client sends these.
//
// ChannelData (RFC 8656 §12.4):
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |         Channel Number        |            Length             |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   /                       Application Data                        /
// The channel number is 0x4000..0x4FFF, so the first two bits are 01: STUN starts 00 and punch's
// data frames 11 (docs/protocol.md, "One socket, three kinds of datagram").
#pragma once

#include "punch/export.hpp"

#include "punch/error.hpp"
#include "punch/wire/stun.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace punch::turn {

// RFC 8656 §17 (methods) and §18 (attributes); the STUN ones TURN relies on are repeated here so
// that a TURN client reads in one vocabulary.
namespace method {
inline constexpr std::uint16_t allocate = 0x003;
inline constexpr std::uint16_t refresh = 0x004;
inline constexpr std::uint16_t send = 0x006;               // indication only
inline constexpr std::uint16_t data = 0x007;               // indication only
inline constexpr std::uint16_t create_permission = 0x008;
inline constexpr std::uint16_t channel_bind = 0x009;
}  // namespace method

namespace attr {
inline constexpr std::uint16_t channel_number = 0x000C;
inline constexpr std::uint16_t lifetime = 0x000D;
inline constexpr std::uint16_t xor_peer_address = 0x0012;
inline constexpr std::uint16_t data = 0x0013;
inline constexpr std::uint16_t xor_relayed_address = 0x0016;
inline constexpr std::uint16_t requested_transport = 0x0019;
inline constexpr std::uint16_t dont_fragment = 0x001A;
inline constexpr std::uint16_t username = stun::attr::username;
inline constexpr std::uint16_t realm = stun::attr::realm;
inline constexpr std::uint16_t nonce = stun::attr::nonce;
inline constexpr std::uint16_t error_code = stun::attr::error_code;
inline constexpr std::uint16_t message_integrity = stun::attr::message_integrity;
inline constexpr std::uint16_t xor_mapped_address = stun::attr::xor_mapped_address;
}  // namespace attr

// The error codes a TURN client acts on (RFC 8489 §14.8, RFC 8656 §19).
namespace error {
inline constexpr int bad_request = 400;
inline constexpr int unauthorized = 401;            // the credential round, or a wrong credential
inline constexpr int forbidden = 403;
inline constexpr int allocation_mismatch = 437;
inline constexpr int stale_nonce = 438;             // ask again with the NONCE of this answer
inline constexpr int wrong_credentials = 441;
inline constexpr int unsupported_transport = 442;
inline constexpr int allocation_quota_reached = 486;
inline constexpr int insufficient_capacity = 508;
}  // namespace error

inline constexpr std::uint8_t transport_udp = 17;  // REQUESTED-TRANSPORT: the IP protocol number
// RFC 8656 §12: channel numbers a client may bind.
inline constexpr std::uint16_t min_channel = 0x4000;
inline constexpr std::uint16_t max_channel = 0x4FFF;
inline constexpr std::size_t channel_data_header_size = 4;
inline constexpr std::size_t message_integrity_size = 20;  // HMAC-SHA1

// RFC 8489 §9.2.2: key = MD5(username ":" OpaqueString(realm) ":" OpaqueString(password)).
// OpaqueString (RFC 8265) is applied by the caller: for ASCII without control characters it is
// the text itself, which is what coturn's configurations hold.
using long_term_key = std::array<std::byte, 16>;
PUNCH_EXPORT long_term_key make_long_term_key(std::string_view username, std::string_view realm,
                                              std::string_view password) noexcept;

// Appends MESSAGE-INTEGRITY (HMAC-SHA1 with `key` over the message so far, RFC 8489 §14.5).
PUNCH_EXPORT void add_message_integrity(stun::builder& b, std::span<const std::byte> key) noexcept;
// True if `m` carries a 20-byte MESSAGE-INTEGRITY that verifies with `key` (constant time).
PUNCH_EXPORT bool check_message_integrity(const stun::message& m, std::span<const std::byte> key) noexcept;

// REQUESTED-TRANSPORT (RFC 8656 §18.7): the protocol number, then three reserved zero bytes.
PUNCH_EXPORT void add_requested_transport(stun::builder& b, std::uint8_t protocol = transport_udp) noexcept;
// CHANNEL-NUMBER (RFC 8656 §18.1): the number, then two reserved bytes (RFFU).
PUNCH_EXPORT void add_channel_number(stun::builder& b, std::uint16_t channel) noexcept;
// 4 bytes, the number within min_channel..max_channel; else errc::bad_attribute_value.
PUNCH_EXPORT std::optional<std::uint16_t> decode_channel_number(const stun::attribute& a, error_code& ec) noexcept;

// Cheap demultiplexing test: at least a header, first two bits 01 (RFC 8656 §12, RFC 7983).
constexpr bool looks_like_channel_data(std::span<const std::byte> d) noexcept {
  return d.size() >= channel_data_header_size && (d[0] & std::byte{0xC0}) == std::byte{0x40};
}

struct PUNCH_EXPORT channel_data {
  std::uint16_t channel = 0;
  std::span<const std::byte> data;  // points into the datagram
};

// Decodes one ChannelData datagram (RFC 8656 §12.5). Errors (errc::turn_bad_channel_data):
// fewer than 4 bytes, a channel number outside 0x4000..0x4FFF, a length longer than the bytes
// that follow, or more than 3 bytes after the data (padding to 4 is allowed over UDP, §12.5).
PUNCH_EXPORT std::optional<channel_data> decode_channel_data(std::span<const std::byte> datagram,
                                                             error_code& ec) noexcept;
// Writes ChannelData for `payload` on `channel` into `out`, unpadded: over UDP padding is not
// required (RFC 8656 §12.5) and the server strips it anyway. Returns the bytes written, or an
// empty span with ec: errc::turn_bad_channel_data (channel out of range, payload over 65535
// bytes) or errc::message_too_large (`out` too small).
PUNCH_EXPORT std::span<const std::byte> encode_channel_data(std::uint16_t channel, std::span<const std::byte> payload,
                                                            std::span<std::byte> out, error_code& ec) noexcept;

}  // namespace punch::turn
