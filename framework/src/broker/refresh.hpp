// The broker's REFRESH-CREDENTIAL (private header; docs/protocol.md, "Refresh"): what the
// answer to a signed Register carries, so that the peer's keepalive refreshes cost the broker
// a keyed hash instead of a signature verification. 4 bytes of issue time and a 16-byte MAC
// (SipHash-2-4 with 128-bit output) over that time, the source address and port, the
// PUBLIC-KEY and the PEER-ID. Stateless like the NONCE: the broker keeps nothing per
// credential. The MAC key is derived from the broker secret with its own context (BLAKE2b),
// so a NONCE never passes for a credential nor the reverse.
#pragma once

#include "server/nonce.hpp"

#include "punch/identity.hpp"

#include <algorithm>
#include <string_view>
#include <tuple>

namespace punch::detail {

using refresh_credential = std::array<std::byte, wire::refresh_credential_size>;

class refresh_issuer {
public:
  using clock = std::chrono::steady_clock;

  explicit refresh_issuer(const broker_secret& secret) noexcept {
    static constexpr std::string_view context = "punch REFRESH-CREDENTIAL key";
    static_assert(crypto_generichash_BYTES_MIN <= std::tuple_size_v<decltype(key_)>);
    crypto_generichash(key_.data(), key_.size(), reinterpret_cast<const unsigned char*>(context.data()),
                       context.size(), reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
  }
  ~refresh_issuer() { sodium_memzero(key_.data(), key_.size()); }
  refresh_issuer(const refresh_issuer&) = delete;
  refresh_issuer& operator=(const refresh_issuer&) = delete;

  // The credential of `id`, bound to `key`, registered from `source` (unmapped) at `now`.
  refresh_credential issue(const endpoint& source, const public_key& key, std::string_view id,
                           clock::time_point now) const noexcept {
    refresh_credential c;
    const std::uint32_t t = seconds_of(now);
    for (int i = 0; i < 4; ++i) c[static_cast<std::size_t>(i)] = std::byte(t >> (24 - 8 * i));
    mac(t, source, key, id, std::span<std::byte, mac_size>(c.data() + 4, mac_size));
    return c;
  }

  enum class verdict { good, stale, bad };
  // Whether `value` is a credential this broker (or one sharing its secret) issued for exactly
  // this source, key and id at most `lifetime` before `now`. The age first: it is public, and
  // cheaper. `bad` covers a forgery, another source, key or id, and another broker's secret.
  verdict check(std::span<const std::byte> value, const endpoint& source, const public_key& key, std::string_view id,
                clock::time_point now, std::chrono::seconds lifetime) const noexcept {
    if (value.size() != wire::refresh_credential_size) return verdict::bad;
    const std::uint32_t issued = issue_time_of(value);
    if (!fresh(issued, now, lifetime)) return verdict::stale;
    std::array<std::byte, mac_size> expected;
    mac(issued, source, key, id, expected);
    return sodium_memcmp(expected.data(), value.data() + 4, mac_size) == 0 ? verdict::good : verdict::bad;
  }

private:
  static constexpr std::size_t mac_size = wire::refresh_credential_size - 4;

  // SipHash-2-4-128 keyed with the derived key over time (4) ‖ source (family, address,
  // port) ‖ PUBLIC-KEY (32) ‖ id length (1) ‖ id: at most 120 bytes. SipHash rather than the
  // NONCE's BLAKE2b: a refresh is the broker's most frequent authenticated request, and keyed
  // BLAKE2b costs two compressions of 128 bytes here (the key is a block of its own), which
  // was a tenth of a refresh's CPU in a profile.
  void mac(std::uint32_t t, const endpoint& source, const public_key& key, std::string_view id,
           std::span<std::byte, mac_size> out) const noexcept {
    std::array<unsigned char, 4 + max_endpoint_bytes + 32 + 1 + wire::max_peer_id_size> in{};
    static_assert(public_key_size == 32);
    std::size_t n = put_u32(in, 0, t);
    n = put_endpoint(in, n, source);
    for (auto b : key) in[n++] = std::to_integer<unsigned char>(b);
    const std::size_t id_size = std::min(id.size(), wire::max_peer_id_size);  // the broker checked it
    in[n++] = static_cast<unsigned char>(id_size);
    for (std::size_t i = 0; i < id_size; ++i) in[n++] = static_cast<unsigned char>(id[i]);
    static_assert(mac_size == crypto_shorthash_siphashx24_BYTES);
    crypto_shorthash_siphashx24(reinterpret_cast<unsigned char*>(out.data()), in.data(), n, key_.data());
  }

  std::array<unsigned char, crypto_shorthash_siphashx24_KEYBYTES> key_{};
};

}  // namespace punch::detail
