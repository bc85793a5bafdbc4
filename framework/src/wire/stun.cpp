// STUN message parsing (RFC 8489 §5, §14): header validation, the attribute walk,
// FINGERPRINT, attribute lookup and iteration. Typed attribute values live in
// stun_attributes.cpp, message building in stun_builder.cpp.
#include "punch/wire/stun.hpp"

#include "wire/stun_bytes.hpp"

#include <sodium.h>
#include <zlib.h>

#include <algorithm>

namespace punch::stun {
namespace {

using detail::attribute_header_size;
using detail::padded;
using detail::read_u16;
using detail::read_u32;

// RFC 8489 §5: the two most significant bits of every STUN message are zero.
bool top_bits_clear(std::byte first) noexcept { return (first & std::byte{0xC0}) == std::byte{0}; }

// RFC 8489 §5: the 14-bit type interleaves the class bits C1 (bit 8) and C0 (bit 4) with the
// 12 method bits M11..M0.
std::uint16_t method_of(std::uint16_t type) noexcept {
  return static_cast<std::uint16_t>((type & 0x000F) | ((type & 0x00E0) >> 1) |
                                    ((type & 0x3E00) >> 2));
}

message_class class_of(std::uint16_t type) noexcept {
  return static_cast<message_class>(((type >> 7) & 0x2) | ((type >> 4) & 0x1));
}

bool padding_is_zero(std::span<const std::byte> padding) noexcept {
  return std::all_of(padding.begin(), padding.end(), [](std::byte b) { return b == std::byte{0}; });
}

// Checks one attribute at `pos` (4-aligned, < bytes.size()) and returns the offset of the
// next one, or sets ec. `bytes` is the whole message; its size was checked against the header.
std::size_t check_attribute(std::span<const std::byte> bytes, std::size_t pos,
                            const parse_options& options, error_code& ec) noexcept {
  const std::size_t end = bytes.size();
  if (end - pos < attribute_header_size) {
    ec = errc::bad_attribute_length;
    return end;
  }
  const std::size_t length = read_u16(bytes.data() + pos + 2);
  const std::size_t value_at = pos + attribute_header_size;
  // Compare against what is left, so no sum can overflow or point past the end.
  if (padded(length) > end - value_at) {
    ec = errc::bad_attribute_length;
    return end;
  }
  if (options.padding == padding_check::require_zero &&
      !padding_is_zero(bytes.subspan(value_at + length, padded(length) - length))) {
    ec = errc::bad_padding;
    return end;
  }
  return value_at + padded(length);
}

// RFC 8489 §14.7: FINGERPRINT is last, 4 bytes, and equals the CRC-32 of the message before
// it (whose length field already counts the FINGERPRINT) XOR 0x5354554E.
bool fingerprint_matches(std::span<const std::byte> bytes, std::size_t pos) noexcept {
  const std::size_t length = read_u16(bytes.data() + pos + 2);
  if (length != 4 || pos + fingerprint_size != bytes.size()) {
    return false;
  }
  return read_u32(bytes.data() + pos + attribute_header_size) ==
         fingerprint_of(bytes.first(pos));
}

}  // namespace

bool looks_like_stun(std::span<const std::byte> datagram) noexcept {
  return datagram.size() >= header_size && top_bits_clear(datagram[0]) &&
         read_u32(datagram.data() + 4) == magic_cookie;
}

// RFC 8489 §14.7's CRC-32 is ISO 3309's, zlib's crc32: zlib computes it several bytes at a
// time (braided tables), where Boost.CRC took one byte per step, and every request and answer
// the broker handles is CRC'd (Lookups are padded to 404 bytes).
std::uint32_t fingerprint_of(std::span<const std::byte> bytes) noexcept {
  const auto crc = crc32_z(0L, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size());
  return static_cast<std::uint32_t>(crc) ^ fingerprint_xor;
}

std::optional<message> message::parse(std::span<const std::byte> datagram, error_code& ec,
                                      parse_options options) noexcept {
  ec.clear();
  if (datagram.size() < header_size) {
    ec = errc::truncated;
    return std::nullopt;
  }
  if (!top_bits_clear(datagram[0])) {
    ec = errc::not_stun;
    return std::nullopt;
  }
  if (read_u32(datagram.data() + 4) != magic_cookie) {
    ec = errc::bad_magic_cookie;
    return std::nullopt;
  }
  // RFC 8489 §5: the length counts the attributes only and is a multiple of 4.
  const std::size_t length = read_u16(datagram.data() + 2);
  if (length % 4 != 0) {
    ec = errc::bad_message_length;
    return std::nullopt;
  }
  if (datagram.size() - header_size < length) {
    ec = errc::truncated;  // e.g. a receive buffer too small for the datagram
    return std::nullopt;
  }
  if (datagram.size() - header_size > length) {
    ec = errc::bad_message_length;
    return std::nullopt;
  }

  message m;
  m.bytes_ = datagram;
  const std::uint16_t type = read_u16(datagram.data());
  m.method_ = method_of(type);
  m.class_ = class_of(type);
  std::copy_n(datagram.begin() + 8, m.id_.size(), m.id_.begin());

  for (std::size_t pos = header_size; pos < datagram.size();) {
    const std::size_t next = check_attribute(datagram, pos, options, ec);
    if (ec) {
      return std::nullopt;
    }
    if (read_u16(datagram.data() + pos) == attr::fingerprint) {
      if (!fingerprint_matches(datagram, pos)) {
        ec = errc::bad_fingerprint;
        return std::nullopt;
      }
      m.has_fingerprint_ = true;
    }
    pos = next;
  }
  return m;
}

std::optional<attribute> message::find(std::uint16_t type) const noexcept {
  bool after_integrity = false;
  for (const attribute a : *this) {
    // RFC 8489 §14.5, §14.6: only these may follow MESSAGE-INTEGRITY(-SHA256).
    const bool visible = !after_integrity || a.type == attr::message_integrity_sha256 ||
                         a.type == attr::fingerprint;
    if (visible && a.type == type) {
      return a;
    }
    if (a.type == attr::message_integrity || a.type == attr::message_integrity_sha256) {
      after_integrity = true;
    }
  }
  return std::nullopt;
}

std::optional<std::span<const std::byte>> message::covered_by(std::uint16_t type,
                                                              std::span<std::byte> scratch) const noexcept {
  for (auto it = begin(); it != end(); ++it) {
    const attribute a = *it;
    if (a.type != type) {
      continue;
    }
    // The attribute's header starts 4 bytes before its value; the message was validated.
    const auto at = static_cast<std::size_t>(a.value.data() - bytes_.data()) - attribute_header_size;
    const std::size_t end_of_attribute = at + attribute_header_size + padded(a.value.size());
    if (scratch.size() < at) {
      return std::nullopt;
    }
    std::copy_n(bytes_.begin(), at, scratch.begin());
    detail::write_u16(scratch.data() + 2, static_cast<std::uint16_t>(end_of_attribute - header_size));
    return scratch.first(at);
  }
  return std::nullopt;
}

bool check_message_integrity_sha256(const message& m, std::span<const std::byte> key) noexcept {
  auto mi = m.find(attr::message_integrity_sha256);
  if (!mi || mi->value.size() != crypto_auth_hmacsha256_BYTES) {
    return false;
  }
  std::array<std::byte, max_message_size> scratch;
  auto covered = m.covered_by(attr::message_integrity_sha256, scratch);
  if (!covered) {
    return false;
  }
  std::array<unsigned char, crypto_auth_hmacsha256_BYTES> mac;
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(covered->data()), covered->size());
  crypto_auth_hmacsha256_final(&st, mac.data());
  return sodium_memcmp(mac.data(), mi->value.data(), mac.size()) == 0;
}

// min() keeps a default-constructed (empty) message an empty range.
message::iterator message::begin() const noexcept {
  return {bytes_, std::min(header_size, bytes_.size())};
}

message::iterator message::end() const noexcept { return {bytes_, bytes_.size()}; }

// The message was validated by parse, so every attribute header and value is in bounds.
attribute message::iterator::operator*() const noexcept {
  const std::size_t length = read_u16(bytes_.data() + pos_ + 2);
  return {read_u16(bytes_.data() + pos_), bytes_.subspan(pos_ + attribute_header_size, length)};
}

message::iterator& message::iterator::operator++() noexcept {
  pos_ += attribute_header_size + padded(read_u16(bytes_.data() + pos_ + 2));
  return *this;
}

}  // namespace punch::stun
