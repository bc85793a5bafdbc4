// Typed STUN attribute decoders (RFC 8489 §14): addresses with and without XOR, ERROR-CODE,
// fixed-size integers and text. Each checks the value's size before reading it.
#include "punch/wire/stun.hpp"

#include "wire/stun_bytes.hpp"

#include <algorithm>

namespace punch::stun {
namespace {

using detail::read_u16;
using detail::read_u32;

// RFC 8489 §14.1: address family codes.
constexpr std::byte family_ipv4{0x01};
constexpr std::byte family_ipv6{0x02};
constexpr std::size_t address_header_size = 4;  // reserved, family, port

// The 16 bytes an address is XORed with (§14.2): the cookie, then the transaction id. IPv4
// uses only the first 4 (the cookie).
std::array<std::byte, 16> xor_pad(const transaction_id& id) noexcept {
  std::array<std::byte, 16> pad{};
  detail::write_u32(pad.data(), magic_cookie);
  std::copy(id.begin(), id.end(), pad.begin() + 4);
  return pad;
}

// MAPPED-ADDRESS layout (§14.1), XORed as in §14.2 when `id` is given. The first byte is
// reserved and ignored on receipt.
std::optional<endpoint> decode_endpoint(const attribute& a, const transaction_id* id,
                                        error_code& ec) noexcept {
  ec.clear();
  const auto v = a.value;
  if (v.size() < address_header_size) {
    ec = errc::bad_attribute_value;
    return std::nullopt;
  }
  const std::byte family = v[1];
  std::uint16_t port = read_u16(v.data() + 2);
  const auto pad = id ? xor_pad(*id) : std::array<std::byte, 16>{};
  if (id) {
    port ^= static_cast<std::uint16_t>(magic_cookie >> 16);
  }
  const auto address = v.subspan(address_header_size);
  if (family == family_ipv4 && address.size() == 4) {
    boost::asio::ip::address_v4::bytes_type b{};
    for (std::size_t i = 0; i < b.size(); ++i) {
      b[i] = std::to_integer<unsigned char>(address[i] ^ pad[i]);
    }
    return endpoint{boost::asio::ip::address_v4{b}, port};
  }
  if (family == family_ipv6 && address.size() == 16) {
    boost::asio::ip::address_v6::bytes_type b{};
    for (std::size_t i = 0; i < b.size(); ++i) {
      b[i] = std::to_integer<unsigned char>(address[i] ^ pad[i]);
    }
    return endpoint{boost::asio::ip::address_v6{b}, port};
  }
  // Unknown family, or a size that does not match the family.
  ec = errc::bad_attribute_value;
  return std::nullopt;
}

}  // namespace

std::optional<endpoint> decode_xor_address(const attribute& a, const transaction_id& id,
                                           error_code& ec) noexcept {
  return decode_endpoint(a, &id, ec);
}

std::optional<endpoint> decode_address(const attribute& a, error_code& ec) noexcept {
  return decode_endpoint(a, nullptr, ec);
}

// RFC 8489 §14.8: 21 reserved bits (ignored), class (3 bits), number (8 bits), reason.
std::optional<error_value> decode_error_code(const attribute& a, error_code& ec) noexcept {
  ec.clear();
  const auto v = a.value;
  if (v.size() < 4 || v.size() - 4 > detail::max_text_size_decode) {
    ec = errc::bad_attribute_value;
    return std::nullopt;
  }
  const int cls = std::to_integer<int>(v[2] & std::byte{0x07});
  const int number = std::to_integer<int>(v[3]);
  const int code = cls * 100 + number;
  if (number > 99 || code < 300 || code > 699) {
    ec = errc::bad_attribute_value;
    return std::nullopt;
  }
  const auto reason = v.subspan(4);
  return error_value{code, {reinterpret_cast<const char*>(reason.data()), reason.size()}};
}

std::optional<std::uint32_t> decode_u32(const attribute& a, error_code& ec) noexcept {
  ec.clear();
  if (a.value.size() != 4) {
    ec = errc::bad_attribute_value;
    return std::nullopt;
  }
  return read_u32(a.value.data());
}

std::optional<std::uint64_t> decode_u64(const attribute& a, error_code& ec) noexcept {
  ec.clear();
  if (a.value.size() != 8) {
    ec = errc::bad_attribute_value;
    return std::nullopt;
  }
  return (std::uint64_t{read_u32(a.value.data())} << 32) | read_u32(a.value.data() + 4);
}

// Viewing std::byte storage as char is allowed (char may alias anything); no struct casts.
std::string_view decode_string(const attribute& a) noexcept {
  return {reinterpret_cast<const char*>(a.value.data()), a.value.size()};
}

std::optional<std::string_view> decode_string(const attribute& a, error_code& ec) noexcept {
  ec.clear();
  if (detail::is_text_attribute(a.type) && a.value.size() > detail::max_text_size_decode) {
    ec = errc::bad_attribute_value;
    return std::nullopt;
  }
  return decode_string(a);
}

}  // namespace punch::stun
