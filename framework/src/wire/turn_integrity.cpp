// TURN's long-term credentials (RFC 8489 §9.2): the MD5 key, MESSAGE-INTEGRITY (HMAC-SHA1,
// §14.5) written and checked, and the small fixed-layout TURN attributes (RFC 8656 §18).
// Crypto is nettle's; nothing here is hand-written crypto.
#include "punch/wire/turn.hpp"

#include "wire/stun_bytes.hpp"

#include <nettle/hmac.h>
#include <nettle/md5.h>
#include <nettle/memops.h>

#include <array>

namespace punch::turn {
namespace {

const std::uint8_t* bytes_of(std::string_view s) noexcept { return reinterpret_cast<const std::uint8_t*>(s.data()); }
const std::uint8_t* bytes_of(std::span<const std::byte> s) noexcept {
  return reinterpret_cast<const std::uint8_t*>(s.data());
}

void hmac_sha1(std::span<const std::byte> key, std::span<const std::byte> covered,
               std::span<std::byte, message_integrity_size> out) noexcept {
  hmac_sha1_ctx ctx;
  hmac_sha1_set_key(&ctx, key.size(), bytes_of(key));
  hmac_sha1_update(&ctx, covered.size(), bytes_of(covered));
  hmac_sha1_digest(&ctx, out.size(), reinterpret_cast<std::uint8_t*>(out.data()));
}

}  // namespace

long_term_key make_long_term_key(std::string_view username, std::string_view realm,
                                 std::string_view password) noexcept {
  md5_ctx ctx;
  md5_init(&ctx);
  md5_update(&ctx, username.size(), bytes_of(username));
  md5_update(&ctx, 1, bytes_of(":"));
  md5_update(&ctx, realm.size(), bytes_of(realm));
  md5_update(&ctx, 1, bytes_of(":"));
  md5_update(&ctx, password.size(), bytes_of(password));
  long_term_key key;
  md5_digest(&ctx, key.size(), reinterpret_cast<std::uint8_t*>(key.data()));
  return key;
}

void add_message_integrity(stun::builder& b, std::span<const std::byte> key) noexcept {
  b.add_covering(attr::message_integrity, message_integrity_size,
                 [&](std::span<const std::byte> covered, std::span<std::byte> value) {
                   hmac_sha1(key, covered, value.first<message_integrity_size>());
                 });
}

bool check_message_integrity(const stun::message& m, std::span<const std::byte> key) noexcept {
  auto mi = m.find(attr::message_integrity);
  if (!mi || mi->value.size() != message_integrity_size) return false;
  std::array<std::byte, stun::max_message_size> scratch;
  // RFC 8489 §14.5: the MAC covers the message up to the attribute, with the length field
  // counting the attribute (and nothing after it, e.g. FINGERPRINT).
  auto covered = m.covered_by(attr::message_integrity, scratch);
  if (!covered) return false;
  std::array<std::byte, message_integrity_size> mac;
  hmac_sha1(key, *covered, mac);
  return memeql_sec(mac.data(), mi->value.data(), mac.size()) != 0;
}

void add_requested_transport(stun::builder& b, std::uint8_t protocol) noexcept {
  b.add_u32(attr::requested_transport, std::uint32_t{protocol} << 24);
}

void add_channel_number(stun::builder& b, std::uint16_t channel) noexcept {
  b.add_u32(attr::channel_number, std::uint32_t{channel} << 16);
}

std::optional<std::uint16_t> decode_channel_number(const stun::attribute& a, error_code& ec) noexcept {
  ec.clear();
  if (a.value.size() != 4) {
    ec = errc::bad_attribute_value;
    return std::nullopt;
  }
  const std::uint16_t channel = stun::detail::read_u16(a.value.data());
  if (channel < min_channel || channel > max_channel) {
    ec = errc::bad_attribute_value;
    return std::nullopt;
  }
  return channel;
}

}  // namespace punch::turn
