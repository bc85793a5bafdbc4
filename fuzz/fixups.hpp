// Repairs a fuzzed datagram the way a real sender would have built it, so that mutations get
// past the checks a random byte string almost never passes (the length field, FINGERPRINT's
// CRC-32, a transaction id or token the receiver is waiting for, the integrity and signature of
// a check, a frame's connection tag and seal)
// and reach the code behind them. Each fixup is chosen per datagram by a bit of the input.
#pragma once

#include "punch/wire/protocol.hpp"
#include "punch/wire/stun.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace fuzz {

namespace stun = punch::stun;
namespace wire = punch::wire;

inline std::uint16_t read_u16(std::span<const std::byte> d, std::size_t at) {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(d[at]) << 8) | std::to_integer<unsigned>(d[at + 1]));
}

// The header's length field says what follows the header (when that is a multiple of 4).
inline void fix_length(std::span<std::byte> d) {
  if (d.size() < stun::header_size || (d.size() - stun::header_size) % 4 != 0 || d.size() > 0xFFFF) return;
  const std::size_t n = d.size() - stun::header_size;
  d[2] = std::byte(n >> 8);
  d[3] = std::byte(n & 0xFF);
}

// A trailing FINGERPRINT attribute gets the right CRC-32.
inline void fix_fingerprint(std::span<std::byte> d) {
  if (d.size() < stun::header_size + stun::fingerprint_size) return;
  const std::size_t at = d.size() - stun::fingerprint_size;
  if (read_u16(d, at) != stun::attr::fingerprint || read_u16(d, at + 2) != 4) return;
  const std::uint32_t v = stun::fingerprint_of(d.first(at));
  for (int i = 0; i < 4; ++i) d[at + 4 + i] = std::byte(v >> (24 - 8 * i));
}

inline void set_transaction_id(std::span<std::byte> d, const stun::transaction_id& id) {
  if (d.size() >= stun::header_size) std::copy(id.begin(), id.end(), d.begin() + 8);
}

// Calls f(type, value offset, value length) for each attribute that fits the datagram.
template <typename F>
void each_attribute(std::span<std::byte> d, F&& f) {
  std::size_t at = stun::header_size;
  while (at + 4 <= d.size()) {
    const std::uint16_t type = read_u16(d, at), len = read_u16(d, at + 2);
    if (at + 4 + len > d.size()) return;
    f(type, at + 4, std::size_t{len});
    at += 4 + ((len + 3u) & ~3u);
  }
}

// The bytes an attribute whose value starts at `value_at` covers (builder::add_covering):
// everything before its header, the length field ending at the attribute.
inline std::vector<std::byte> covered(std::span<const std::byte> d, std::size_t value_at, std::size_t len) {
  std::vector<std::byte> c(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(value_at - 4));
  const std::size_t body = value_at + ((len + 3u) & ~3u) - stun::header_size;
  c[2] = std::byte(body >> 8);
  c[3] = std::byte(body & 0xFF);
  return c;
}

// What makes a check authentic for the introduction of `token` (docs/protocol.md): its
// PUNCH-ID, the sender's EPHEMERAL-KEY and HANDSHAKE-SIGNATURE, and MESSAGE-INTEGRITY-SHA256.
struct check_signer {
  wire::token token{};
  bool controlling = false;                      // the sender's role in that introduction
  std::array<std::byte, 32> public_key{};        // the sender's identity (an Introduce's PUBLIC-KEY)
  std::array<std::byte, 32> ephemeral_public{};
  std::function<void(std::span<const std::byte> message, std::span<std::byte> signature)> sign;
};

// Every 16-byte TOKEN attribute gets `s.token` and every PUBLIC-KEY the sender's; a check's PUNCH-ID, EPHEMERAL-KEY, SIGNATURE
// and MESSAGE-INTEGRITY-SHA256 (of the right sizes) become what the peer of that
// introduction would have sent.
inline void authenticate(std::span<std::byte> d, const check_signer& s) {
  if (d.size() < stun::header_size) return;
  const auto keys = wire::derive_keys(s.token);
  each_attribute(d, [&](std::uint16_t type, std::size_t at, std::size_t len) {
    const auto out = d.subspan(at, len);
    if (type == wire::attr::token && len == wire::token_size) std::copy(s.token.begin(), s.token.end(), out.begin());
    if (type == wire::attr::punch_id && len == keys.punch_id.size()) std::copy(keys.punch_id.begin(), keys.punch_id.end(), out.begin());
    if (type == wire::attr::ephemeral_key && len == 32) std::copy(s.ephemeral_public.begin(), s.ephemeral_public.end(), out.begin());
    if (type == wire::attr::public_key && len == 32) std::copy(s.public_key.begin(), s.public_key.end(), out.begin());
    if (type == wire::attr::handshake_signature && len == 64)
      s.sign(wire::handshake_transcript(s.token, s.controlling, s.ephemeral_public), out);
    if (type == wire::attr::message_integrity_sha256 && len == crypto_auth_hmacsha256_BYTES) {
      const auto c = covered(d, at, len);
      crypto_auth_hmacsha256_state st;
      crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(keys.check_key.data()), keys.check_key.size());
      crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(c.data()), c.size());
      crypto_auth_hmacsha256_final(&st, reinterpret_cast<unsigned char*>(out.data()));
    }
  });
}

// A data frame gets the connection tag of `token` and, when the connection's key is known,
// is sealed with it: what follows the header (less the 16-byte tag) is the plaintext.
inline void seal_frame(std::span<std::byte> d, const wire::token& token, const std::array<std::byte, 32>* key) {
  if (d.size() < wire::frame_overhead) return;
  const auto tag = wire::tag_of(token);
  for (int i = 0; i < 4; ++i) d[1 + i] = std::byte(tag >> (24 - 8 * i));
  if (!key) return;
  const std::uint64_t counter = wire::frame_counter_of(d);
  std::array<unsigned char, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES> nonce{};
  for (int i = 0; i < 8; ++i) nonce[nonce.size() - 1 - i] = static_cast<unsigned char>(counter >> (8 * i));
  auto* body = reinterpret_cast<unsigned char*>(d.data() + wire::frame_header_size);
  const std::size_t size = d.size() - wire::frame_overhead;
  crypto_aead_xchacha20poly1305_ietf_encrypt_detached(body, body + size, nullptr, body, size,
                                                      reinterpret_cast<const unsigned char*>(d.data()),
                                                      wire::frame_header_size, nullptr, nonce.data(),
                                                      reinterpret_cast<const unsigned char*>(key->data()));
}

// The STUN class bits of a datagram's first two bytes (RFC 8489 §5).
inline stun::message_class class_of(std::span<const std::byte> d) {
  const unsigned type = read_u16(d, 0);
  return static_cast<stun::message_class>(((type >> 7) & 2) | ((type >> 4) & 1));
}

}  // namespace fuzz
