// The handshake that rides on the punch checks: every check and check answer sealed with our
// ephemeral key, our identity's signature binding it to the introduction, and
// MESSAGE-INTEGRITY-SHA256 keyed from the introduction; the peer's verified the same way;
// and, once a check has crossed, the connection's keys derived from the two ephemeral keys
// (crypto_kx) and the connection made.
#include "session/session_state.hpp"

#include "session/connection_state.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <sodium.h>

#include <cstring>

namespace punch::detail {

std::span<const std::byte> session_state::seal_check(punch_attempt& a, stun::builder& b) {
  b.add(wire::attr::ephemeral_key, a.ephemeral_public);
  b.add(wire::attr::handshake_signature, a.handshake_signature);
  b.add_u32(wire::attr::ciphers, ciphers);
  b.add_message_integrity_sha256(a.keys.check_key);
  return b.finish_with_fingerprint();
}

bool session_state::authentic(punch_attempt& a, const stun::message& m) {
  // The introduction's key first: it is cheap, and only the two peers (and the broker) have it.
  if (!stun::check_message_integrity_sha256(m, a.keys.check_key)) {
    ++stats.checks_rejected;
    return false;
  }
  auto eph = m.find(wire::attr::ephemeral_key);
  auto sig = m.find(wire::attr::handshake_signature);
  if (!eph || eph->value.size() != 32 || !sig || sig->value.size() != signature_size) {
    ++stats.checks_rejected;
    return false;
  }
  x25519_key peer_eph;
  std::memcpy(peer_eph.data(), eph->value.data(), peer_eph.size());
  signature s;
  std::memcpy(s.data(), sig->value.data(), s.size());
  if (a.peer_ephemeral) {
    // Verified before: the same key and signature again, or nothing.
    if (*a.peer_ephemeral != peer_eph || s != a.peer_signature) {
      ++stats.checks_rejected;
      return false;
    }
    return true;
  }
  // The peer's identity binds its ephemeral key to this introduction: the broker and anyone
  // who saw the token can make MESSAGE-INTEGRITY-SHA256, not this signature.
  if (!verify(a.peer_key, wire::handshake_transcript(a.token, !a.controlling, peer_eph), s)) {
    ++stats.checks_rejected;
    return false;
  }
  a.peer_ephemeral = peer_eph;
  a.peer_signature = s;
  error_code ec;
  if (auto c = m.find(wire::attr::ciphers)) a.peer_ciphers = stun::decode_u32(*c, ec).value_or(0);
  return true;
}

detail::outcome<std::shared_ptr<connection_state>> session_state::make_connection(punch_attempt& a) {
  // The controlling side is crypto_kx's client: both sides then agree which key is whose.
  std::array<unsigned char, crypto_kx_SESSIONKEYBYTES> rx, tx;
  const auto* own_pk = reinterpret_cast<const unsigned char*>(a.ephemeral_public.data());
  const auto* own_sk = reinterpret_cast<const unsigned char*>(a.ephemeral_secret.data());
  const auto* peer_pk = a.peer_ephemeral ? reinterpret_cast<const unsigned char*>(a.peer_ephemeral->data()) : nullptr;
  const int rc = !peer_pk ? -1
                 : a.controlling ? crypto_kx_client_session_keys(rx.data(), tx.data(), own_pk, own_sk, peer_pk)
                                 : crypto_kx_server_session_keys(rx.data(), tx.data(), own_pk, own_sk, peer_pk);
  sodium_memzero(a.ephemeral_secret.data(), a.ephemeral_secret.size());
  if (rc != 0) {
    drop_attempt(a);
    return detail::fail(errc::handshake_failed, "handshake with \"" + a.peer + "\": unusable ephemeral key");
  }
  auto c = std::make_shared<connection_state>(shared_from_this(), a.shared_from_this());
  std::memcpy(c->rx_key.data(), rx.data(), rx.size());
  std::memcpy(c->tx_key.data(), tx.data(), tx.size());
  // Both offered AES-256-GCM (the CIPHERS of authentic checks): both pick it.
  if (ciphers & a.peer_ciphers & wire::cipher::aes256gcm) {
    c->aes = true;
    crypto_aead_aes256gcm_beforenm(&c->rx_aes, rx.data());
    crypto_aead_aes256gcm_beforenm(&c->tx_aes, tx.data());
  }
  sodium_memzero(rx.data(), rx.size());
  sodium_memzero(tx.data(), tx.size());
  connections[c->tag] = c;
  a.conn = c;
  unconnected.erase(a.keys.tag);
  c->resume_id = a.keys.punch_id;
  c->our_reflexive_other = registration.reflexive_other;
  c->relay_id = a.keys.relay_id;
  c->our_reflexive = registration.reflexive;
  // Early data: what the other side sent before our handshake finished, in arrival order.
  auto held = std::move(a.held);
  a.held.clear();
  a.held_bytes = 0;
  stats.frames_held += held.size();
  for (auto& f : held) c->on_frame(f.bytes, f.from, f.via);
  asio::co_spawn(ex, connection_state::tick_loop(c), asio::detached);
  if (c->path == path_kind::relay) asio::co_spawn(ex, keep_trying_direct(a.shared_from_this()), asio::detached);
  if (options.path_policy.mode == path_mode::adaptive && a.controlling)
    asio::co_spawn(ex, adapt_path(c), asio::detached);
  emit({.what = session_event::kind::connected,
        .peer = a.peer,
        .address = c->remote,
        .path = c->path,
        .nat = a.peer_nat,
        .elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(time.now() - a.started)});
  return c;
}

}  // namespace punch::detail
