// stun::builder: writes a STUN message (RFC 8489 §5, §14) into a caller-supplied buffer,
// header first, attributes in call order with zero padding, FINGERPRINT last.
#include "punch/wire/stun.hpp"

#include "wire/stun_bytes.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>

namespace punch::stun {
namespace {

using detail::attribute_header_size;
using detail::padded;
using detail::write_u16;
using detail::write_u32;

// memcpy with a null source is undefined even for 0 bytes (an empty span may have one).
void put(std::byte* out, const void* src, std::size_t n) noexcept {
  if (n != 0) {
    std::memcpy(out, src, n);
  }
}

// A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d; on the wire it is IPv4.
boost::asio::ip::address unmapped(const boost::asio::ip::address& a) noexcept {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
  }
  return a;
}

}  // namespace

builder::builder(std::span<std::byte> buffer, message_class cls, std::uint16_t method,
                 const transaction_id& id) noexcept
    : buf_(buffer), id_(id) {
  if (buf_.size() < header_size) {
    fail(errc::message_too_large);
    return;
  }
  // RFC 8489 §5: methods are 12 bits.
  if (method > 0x0FFF) {
    fail(errc::bad_attribute_value);
    return;
  }
  write_u16(buf_.data(), message_type(cls, method));
  write_u16(buf_.data() + 2, 0);
  write_u32(buf_.data() + 4, magic_cookie);
  std::copy(id_.begin(), id_.end(), buf_.begin() + 8);
  size_ = header_size;
}

void builder::fail(errc e) noexcept {
  if (!ec_) {
    ec_ = e;
  }
}

// Writes the attribute header and zero padding; returns where the value goes, or nullptr
// after setting the sticky error.
std::byte* builder::reserve(std::uint16_t type, std::size_t value_size) noexcept {
  if (ec_) {
    return nullptr;
  }
  if (sealed_) {
    fail(errc::bad_fingerprint);  // RFC 8489 §14.7: FINGERPRINT stays last
    return nullptr;
  }
  // Compare against what is left so the sums cannot overflow; the body must also fit the
  // 16-bit length field.
  const std::size_t room = std::min(buf_.size(), header_size + detail::max_length_field) - size_;
  if (value_size > detail::max_length_field || room < attribute_header_size ||
      padded(value_size) > room - attribute_header_size) {
    fail(errc::message_too_large);
    return nullptr;
  }
  std::byte* at = buf_.data() + size_;
  write_u16(at, type);
  write_u16(at + 2, static_cast<std::uint16_t>(value_size));
  std::fill(at + attribute_header_size + value_size, at + attribute_header_size + padded(value_size),
            std::byte{0});
  size_ += attribute_header_size + padded(value_size);
  return at + attribute_header_size;
}

builder& builder::add(std::uint16_t type, std::span<const std::byte> value) noexcept {
  if (std::byte* out = reserve(type, value.size())) {
    put(out, value.data(), value.size());
  }
  return *this;
}

builder& builder::add_string(std::uint16_t type, std::string_view value) noexcept {
  if (detail::is_text_attribute(type) && value.size() > detail::max_text_size_encode(type)) {
    fail(errc::bad_attribute_value);
    return *this;
  }
  if (std::byte* out = reserve(type, value.size())) {
    put(out, value.data(), value.size());
  }
  return *this;
}

builder& builder::add_u32(std::uint16_t type, std::uint32_t value) noexcept {
  if (std::byte* out = reserve(type, 4)) {
    write_u32(out, value);
  }
  return *this;
}

builder& builder::add_u64(std::uint16_t type, std::uint64_t value) noexcept {
  if (std::byte* out = reserve(type, 8)) {
    write_u32(out, static_cast<std::uint32_t>(value >> 32));
    write_u32(out + 4, static_cast<std::uint32_t>(value & 0xFFFFFFFF));
  }
  return *this;
}

// RFC 8489 §14.1 layout: reserved byte, family (1 = IPv4, 2 = IPv6), port, address; §14.2
// XORs the port with the cookie's top half and the address with the cookie + transaction id.
builder& builder::add_endpoint(std::uint16_t type, const endpoint& ep, bool xor_with_id) noexcept {
  const auto address = unmapped(ep.address());
  std::array<std::byte, 16> pad{};
  if (xor_with_id) {
    write_u32(pad.data(), magic_cookie);
    std::copy(id_.begin(), id_.end(), pad.begin() + 4);
  }
  const auto port = static_cast<std::uint16_t>(
      ep.port() ^ (xor_with_id ? static_cast<std::uint16_t>(magic_cookie >> 16) : 0));
  std::array<std::byte, 16> raw{};
  std::size_t raw_size = 0;
  if (address.is_v4()) {
    const auto b = address.to_v4().to_bytes();
    std::transform(b.begin(), b.end(), raw.begin(), [](unsigned char c) { return std::byte{c}; });
    raw_size = b.size();
  } else {
    const auto b = address.to_v6().to_bytes();
    std::transform(b.begin(), b.end(), raw.begin(), [](unsigned char c) { return std::byte{c}; });
    raw_size = b.size();
  }
  if (std::byte* out = reserve(type, 4 + raw_size)) {
    out[0] = std::byte{0};
    out[1] = std::byte{static_cast<unsigned char>(raw_size == 4 ? 0x01 : 0x02)};
    write_u16(out + 2, port);
    for (std::size_t i = 0; i < raw_size; ++i) {
      out[4 + i] = raw[i] ^ pad[i];
    }
  }
  return *this;
}

builder& builder::add_xor_address(std::uint16_t type, const endpoint& ep) noexcept {
  return add_endpoint(type, ep, true);
}

builder& builder::add_address(std::uint16_t type, const endpoint& ep) noexcept {
  return add_endpoint(type, ep, false);
}

// RFC 8489 §14.8: two reserved zero bytes, the class (hundreds) in the low 3 bits of the
// third byte, the number (code % 100) in the fourth, then the reason phrase.
builder& builder::add_error_code(int code, std::string_view reason) noexcept {
  if (code < 300 || code > 699 || reason.size() > detail::max_text_size_encode(attr::error_code)) {
    fail(errc::bad_attribute_value);
    return *this;
  }
  if (std::byte* out = reserve(attr::error_code, 4 + reason.size())) {
    out[0] = std::byte{0};
    out[1] = std::byte{0};
    out[2] = std::byte{static_cast<unsigned char>(code / 100)};
    out[3] = std::byte{static_cast<unsigned char>(code % 100)};
    put(out + 4, reason.data(), reason.size());
  }
  return *this;
}

builder& builder::add_message_integrity_sha256(std::span<const std::byte> key) noexcept {
  return add_covering(attr::message_integrity_sha256, crypto_auth_hmacsha256_BYTES,
                      [&](std::span<const std::byte> covered, std::span<std::byte> value) {
                        crypto_auth_hmacsha256_state st;
                        crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
                        crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(covered.data()),
                                                      covered.size());
                        crypto_auth_hmacsha256_final(&st, reinterpret_cast<unsigned char*>(value.data()));
                      });
}

void builder::write_length() noexcept {
  write_u16(buf_.data() + 2, static_cast<std::uint16_t>(size_ - header_size));
}

std::span<const std::byte> builder::finish() noexcept {
  if (ec_) {
    return {};
  }
  write_length();
  return buf_.first(size_);
}

// RFC 8489 §14.7: the length field must already count the FINGERPRINT when the CRC is taken.
std::span<const std::byte> builder::finish_with_fingerprint() noexcept {
  std::byte* out = reserve(attr::fingerprint, 4);
  if (!out) {
    return {};
  }
  sealed_ = true;
  write_length();
  write_u32(out, fingerprint_of(buf_.first(size_ - fingerprint_size)));
  return buf_.first(size_);
}

}  // namespace punch::stun
