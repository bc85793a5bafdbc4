// STUN message framing (RFC 8489): parsing into a non-owning view and building into a
// caller-supplied buffer. Neither allocates. Knows bytes and messages, never sockets or time.
//
// Layout (RFC 8489 §5):  0b00 | type(14) | length(16) | magic cookie(32) | transaction id(96)
// followed by TLV attributes, each padded to a multiple of 4 bytes (§14).
#pragma once

#include "punch/export.hpp"

#include "punch/error.hpp"

#include <boost/asio/ip/udp.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <span>
#include <string_view>

namespace punch::stun {

using endpoint = boost::asio::ip::udp::endpoint;

inline constexpr std::uint32_t magic_cookie = 0x2112A442;  // RFC 8489 §5
inline constexpr std::size_t header_size = 20;
inline constexpr std::size_t fingerprint_size = 8;          // 4 header + 4 value
inline constexpr std::uint32_t fingerprint_xor = 0x5354554E; // RFC 8489 §14.7
// Our own upper bound for a message; every punch message fits a 1280-byte IPv6 MTU.
inline constexpr std::size_t max_message_size = 1280;

using transaction_id = std::array<std::byte, 12>;

enum class message_class : std::uint8_t {
  request = 0,
  indication = 1,
  success_response = 2,
  error_response = 3,
};

// RFC 8489 §5: the message type interleaves the method bits M11..M7, C1, M6..M4, C0, M3..M0.
constexpr std::uint16_t message_type(message_class cls, std::uint16_t method) noexcept {
  const unsigned c = static_cast<unsigned>(cls);
  return static_cast<std::uint16_t>((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) |
                                    ((c & 0x1) << 4) | ((c & 0x2) << 7));
}

// Methods (RFC 8489 §18.2 and docs/protocol.md for punch's own code points).
namespace method {
inline constexpr std::uint16_t binding = 0x001;
}  // namespace method

// Attribute types (RFC 8489 §18.3 and docs/protocol.md for punch's own code points).
namespace attr {
inline constexpr std::uint16_t mapped_address = 0x0001;
inline constexpr std::uint16_t username = 0x0006;
inline constexpr std::uint16_t message_integrity = 0x0008;
inline constexpr std::uint16_t error_code = 0x0009;
inline constexpr std::uint16_t unknown_attributes = 0x000A;
inline constexpr std::uint16_t realm = 0x0014;
inline constexpr std::uint16_t nonce = 0x0015;
inline constexpr std::uint16_t message_integrity_sha256 = 0x001C;
inline constexpr std::uint16_t userhash = 0x001E;
inline constexpr std::uint16_t xor_mapped_address = 0x0020;
inline constexpr std::uint16_t priority = 0x0024;            // RFC 8445
inline constexpr std::uint16_t use_candidate = 0x0025;       // RFC 8445
inline constexpr std::uint16_t software = 0x8022;
inline constexpr std::uint16_t alternate_server = 0x8023;
inline constexpr std::uint16_t fingerprint = 0x8028;
inline constexpr std::uint16_t ice_controlled = 0x8029;      // RFC 8445
inline constexpr std::uint16_t ice_controlling = 0x802A;     // RFC 8445
inline constexpr std::uint16_t response_origin = 0x802B;     // RFC 5780
inline constexpr std::uint16_t other_address = 0x802C;       // RFC 5780

// True for types 0x0000-0x7FFF (RFC 8489 §14).
constexpr bool comprehension_required(std::uint16_t type) noexcept { return type < 0x8000; }
}  // namespace attr

// One attribute as found in a message: its type and its value without padding.
struct PUNCH_EXPORT attribute {
  std::uint16_t type = 0;
  std::span<const std::byte> value;
};

// How parse treats the padding after an attribute value. RFC 8489 §14 says padding MUST be
// sent as zero and MUST be ignored on receipt; RFC 5389 senders (and the RFC 5769 test
// vectors) pad with other bytes, so only messages from our own peers may be held to zero.
enum class padding_check : std::uint8_t {
  ignore,        // RFC 8489 receiver rule: accept any padding bytes
  require_zero,  // reject non-zero padding with errc::bad_padding
};

struct PUNCH_EXPORT parse_options {
  padding_check padding = padding_check::ignore;
};

// Cheap test used to demultiplex one socket: STUN starts with two zero bits and carries the
// magic cookie at offset 4 (RFC 8489 §5, RFC 7983). Does not validate anything else.
PUNCH_EXPORT bool looks_like_stun(std::span<const std::byte> datagram) noexcept;

// A parsed, validated message. Non-owning: the bytes must outlive the view.
class PUNCH_EXPORT message {
public:
  // Validates the header (top bits, cookie, length multiple of 4 and equal to the datagram
  // size minus 20), walks every attribute checking its length and padding (see
  // padding_check), and checks FINGERPRINT if present (it must then be the last attribute).
  // Never reads out of bounds. Sets ec (cleared on success); the errors, in check order:
  //   truncated          fewer than 20 bytes, or fewer than the header's length promises
  //   not_stun           the first two bits are not 00
  //   bad_magic_cookie   the cookie is not 0x2112A442
  //   bad_message_length the length is not a multiple of 4, or the datagram is longer
  //   bad_attribute_length  an attribute or its padding runs past the end
  //   bad_padding        non-zero padding under padding_check::require_zero
  //   bad_fingerprint    FINGERPRINT is not last, not 4 bytes, or does not match
  // Attribute values are not interpreted here; the typed decoders below check them.
  static std::optional<message> parse(std::span<const std::byte> datagram, error_code& ec,
                                      parse_options options = {}) noexcept;

  std::uint16_t method() const noexcept { return method_; }
  message_class cls() const noexcept { return class_; }
  const transaction_id& id() const noexcept { return id_; }
  std::span<const std::byte> bytes() const noexcept { return bytes_; }
  bool has_fingerprint() const noexcept { return has_fingerprint_; }

  // The first attribute of that type, if any. Follows RFC 8489 §14.5/§14.6: attributes after
  // MESSAGE-INTEGRITY(-SHA256) other than MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are not
  // covered by the integrity check, so find() does not return them.
  std::optional<attribute> find(std::uint16_t type) const noexcept;

  // Iteration over all attributes in wire order, every one of them (a forward range).
  class iterator {
  public:
    using iterator_concept = std::forward_iterator_tag;
    using iterator_category = std::input_iterator_tag;  // operator* returns a value
    using value_type = attribute;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    attribute operator*() const noexcept;
    iterator& operator++() noexcept;
    iterator operator++(int) noexcept { auto t = *this; ++*this; return t; }
    bool operator==(const iterator& o) const noexcept { return pos_ == o.pos_; }
  private:
    friend class message;
    iterator(std::span<const std::byte> bytes, std::size_t pos) noexcept
        : bytes_(bytes), pos_(pos) {}
    std::span<const std::byte> bytes_;
    std::size_t pos_ = 0;
  };
  iterator begin() const noexcept;
  iterator end() const noexcept;

  // The input of the MAC or signature in the first attribute of `type` (see
  // builder::add_covering): every byte before that attribute, copied into `scratch` with the
  // header's length set to end with the attribute. nullopt when there is no such attribute
  // or `scratch` is too small.
  std::optional<std::span<const std::byte>> covered_by(std::uint16_t type,
                                                       std::span<std::byte> scratch) const noexcept;

private:
  std::span<const std::byte> bytes_;
  std::uint16_t method_ = 0;
  message_class class_ = message_class::request;
  transaction_id id_{};
  bool has_fingerprint_ = false;
};

// Typed attribute decoders. Each checks lengths and families, sets ec on bad input
// (errc::bad_attribute_value) and clears it on success. None reads past a.value.
// XOR-MAPPED-ADDRESS and any attribute with the same layout (RFC 8489 §14.2), IPv4 and IPv6.
PUNCH_EXPORT std::optional<endpoint> decode_xor_address(const attribute& a, const transaction_id& id,
                                           error_code& ec) noexcept;
// MAPPED-ADDRESS layout without XOR (RFC 8489 §14.1), e.g. RESPONSE-ORIGIN / OTHER-ADDRESS.
PUNCH_EXPORT std::optional<endpoint> decode_address(const attribute& a, error_code& ec) noexcept;
// ERROR-CODE (RFC 8489 §14.8): class*100 + number, number 0..99, code 300..699, reason
// phrase at most 763 bytes.
struct PUNCH_EXPORT error_value {
  int code = 0;               // 300..699
  std::string_view reason;    // UTF-8 (not validated), points into the message
};
PUNCH_EXPORT std::optional<error_value> decode_error_code(const attribute& a, error_code& ec) noexcept;
// Exactly 4 / 8 bytes, network order (e.g. PRIORITY, ICE-CONTROLLING).
PUNCH_EXPORT std::optional<std::uint32_t> decode_u32(const attribute& a, error_code& ec) noexcept;
PUNCH_EXPORT std::optional<std::uint64_t> decode_u64(const attribute& a, error_code& ec) noexcept;
// The value as text, whatever its size; the bytes are not checked for UTF-8.
PUNCH_EXPORT std::string_view decode_string(const attribute& a) noexcept;
// The same, rejecting USERNAME, REALM, NONCE and SOFTWARE values over 763 bytes
// (RFC 8489 §14.3, §14.9, §14.10, §14.14).
PUNCH_EXPORT std::optional<std::string_view> decode_string(const attribute& a, error_code& ec) noexcept;

// Builds a message into a caller-supplied buffer (max_message_size bytes is always enough
// for punch's own messages). Attributes are written in call order, padding as zero bytes.
// Errors are sticky: after the first failure further calls do nothing, finish() returns an
// empty span and error() tells why:
//   message_too_large    the buffer (or the 16-bit length field) is full
//   bad_attribute_value  an argument cannot be encoded (error code outside 300..699, text
//                        over the RFC 8489 limit, unspecified address family, method > 0xFFF)
//   bad_fingerprint      an attribute added after finish_with_fingerprint()
class PUNCH_EXPORT builder {
public:
  builder(std::span<std::byte> buffer, message_class cls, std::uint16_t method,
          const transaction_id& id) noexcept;

  // Any value as is; the only checks are the sizes.
  builder& add(std::uint16_t type, std::span<const std::byte> value) noexcept;
  // USERNAME, REALM, NONCE and SOFTWARE are held to the RFC 8489 encoding limit (509 bytes,
  // USERNAME 508); other types only to the size checks.
  builder& add_string(std::uint16_t type, std::string_view value) noexcept;
  builder& add_u32(std::uint16_t type, std::uint32_t value) noexcept;
  builder& add_u64(std::uint16_t type, std::uint64_t value) noexcept;
  // An IPv4-mapped IPv6 address (::ffff:a.b.c.d, as dual-stack sockets report IPv4 peers)
  // is written as the IPv4 address it carries.
  builder& add_xor_address(std::uint16_t type, const endpoint& ep) noexcept;
  builder& add_address(std::uint16_t type, const endpoint& ep) noexcept;
  // `code` 300..699, `reason` at most 509 bytes (RFC 8489 §14.8).
  builder& add_error_code(int code, std::string_view reason) noexcept;
  builder& add_software(std::string_view text) noexcept { return add_string(attr::software, text); }

  // Appends an attribute of `size` bytes whose value covers the message so far, the way
  // MESSAGE-INTEGRITY does (RFC 8489 §14.5): the header's length already counts this
  // attribute when `compute(covered, value)` runs; `covered` is every byte before the
  // attribute and `value` is where it writes its `size` bytes. For MACs and signatures.
  template <typename Compute>
  builder& add_covering(std::uint16_t type, std::size_t size, Compute&& compute) noexcept {
    const std::size_t before = size_;
    if (std::byte* out = reserve(type, size)) {
      write_length();
      compute(std::span<const std::byte>(buf_.data(), before), std::span<std::byte>(out, size));
    }
    return *this;
  }
  // Appends MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6, 32 bytes of HMAC-SHA256) with `key`.
  builder& add_message_integrity_sha256(std::span<const std::byte> key) noexcept;

  // Writes the length field and returns the finished message (empty after an error).
  std::span<const std::byte> finish() noexcept;
  // Appends FINGERPRINT (RFC 8489 §14.7) and returns the finished message (empty after an
  // error). Nothing can be added after it.
  std::span<const std::byte> finish_with_fingerprint() noexcept;

  error_code error() const noexcept { return ec_; }
  std::size_t size() const noexcept { return size_; }

private:
  std::byte* reserve(std::uint16_t type, std::size_t value_size) noexcept;
  builder& add_endpoint(std::uint16_t type, const endpoint& ep, bool xor_with_id) noexcept;
  void fail(errc e) noexcept;
  void write_length() noexcept;

  std::span<std::byte> buf_;
  std::size_t size_ = 0;
  transaction_id id_{};
  error_code ec_;
  bool sealed_ = false;  // FINGERPRINT written: it must stay the last attribute
};

// True if `m` carries a MESSAGE-INTEGRITY-SHA256 of 32 bytes that verifies with `key`
// (constant-time comparison).
PUNCH_EXPORT bool check_message_integrity_sha256(const message& m, std::span<const std::byte> key) noexcept;

// CRC-32 based FINGERPRINT value over `bytes` (RFC 8489 §14.7), for tests and tools: the
// CRC-32 of everything before the FINGERPRINT attribute, XOR 0x5354554E.
PUNCH_EXPORT std::uint32_t fingerprint_of(std::span<const std::byte> bytes) noexcept;

}  // namespace punch::stun
