// The broker's Register (docs/protocol.md, "Register", "NONCE", "Refresh"): the first Register
// of a peer, and any Register that changes what is registered, is signed over a NONCE (a
// keyed hash, then an Ed25519 verification) or over a fresh TIMESTAMP (fresh_register.cpp);
// its answer carries a REFRESH-CREDENTIAL, with
// which the peer's keepalive refreshes the same registration from the same address for a
// keyed hash alone.
#include "broker/broker_state.hpp"

#include "punch/identity.hpp"

#include <algorithm>

namespace punch {

using namespace detail;

namespace {

std::chrono::seconds clamp_lifetime(std::chrono::seconds s, const broker_options& o) {
  return std::min(std::max(s, o.min_lifetime), o.max_lifetime);
}

}  // namespace

std::span<const std::byte> broker::impl::on_register(const request& r) {
  ++stats.register_requests;
  auto id_attr = r.msg.find(wire::attr::peer_id);
  if (!id_attr) return error(r, wire::error::bad_request, "missing PEER-ID");
  const std::string_view id = stun::decode_string(*id_attr);
  if (auto why = id_problem(id, false); !why.empty()) return error(r, wire::error::bad_request, why);
  // While the cluster decides on this id's claim, its Registers wait for that answer (the
  // claim's own transaction gets it; a retransmission of another one, the next answer).
  if (link && link->claiming.contains(id)) return {};

  auto lifetime = clamp_lifetime(options.default_lifetime, options);
  if (auto a = r.msg.find(wire::attr::lifetime)) {
    error_code ec;
    auto v = stun::decode_u32(*a, ec);
    if (!v) return error(r, wire::error::bad_request, "bad LIFETIME");
    lifetime = clamp_lifetime(std::chrono::seconds(*v), options);
  }

  std::uint8_t nat = 0;
  if (auto a = r.msg.find(wire::attr::nat_mapping)) {
    error_code ec;
    auto v = stun::decode_u32(*a, ec);
    if (!v || *v > 2) return error(r, wire::error::bad_request, "bad NAT-MAPPING");
    nat = static_cast<std::uint8_t>(*v);
  }

  registration_record& entry = found_a;
  entry.set_id(id);  // id_problem() checked its length
  entry.nat = nat;
  entry.reflexive = r.source;
  entry.reflexive_alt = {};  // the record is reused: no other family unless the peer has one (below)
  entry.expires = r.now + lifetime;
  entry.host_count = 0;
  entry.mapped = {};
  entry.address_proven = true;  // a NONCE or a credential proves it; a TIMESTAMP alone does not (fresh_register.cpp)
  for (const stun::attribute a : r.msg) {
    if (a.type == wire::attr::mapped_candidate) {
      // The port its gateway granted: one, stored as the peer says (it reached us from behind it).
      error_code ec;
      auto ep = stun::decode_xor_address(a, r.msg.id(), ec);
      if (!ep || ep->port() == 0 || entry.mapped.port() != 0)
        return error(r, wire::error::bad_request, "bad MAPPED-CANDIDATE");
      entry.mapped = unmapped(*ep);
      continue;
    }
    if (a.type != wire::attr::host_candidate) continue;
    if (entry.host_count == wire::max_host_candidates)
      return error(r, wire::error::bad_request, "over 8 HOST-CANDIDATEs");
    error_code ec;
    auto ep = stun::decode_xor_address(a, r.msg.id(), ec);
    if (!ep) return error(r, wire::error::bad_request, "bad HOST-CANDIDATE");
    entry.add_host(unmapped(*ep));
  }
  auto key = r.msg.find(wire::attr::public_key);
  if (!key) return error(r, wire::error::bad_request, "missing PUBLIC-KEY");
  if (key->value.size() != entry.key.size()) return error(r, wire::error::bad_request, "bad PUBLIC-KEY");
  std::copy(key->value.begin(), key->value.end(), entry.key.begin());

  // The source first (a MAC, cheap), the key second (a signature, dear): a spoofed source
  // never sees the NONCE sent to it, so it cannot make the broker verify anything. A Register
  // with a NONCE is a signed one, whatever else it carries; without one, a credential makes it
  // a refresh.
  // Without either, a TIMESTAMP makes it a first-datagram Register (fresh_register.cpp).
  auto nonce = r.msg.find(wire::attr::nonce);
  if (!nonce) {
    if (auto credential = r.msg.find(wire::attr::refresh_credential))
      return on_refresh(r, entry, lifetime, credential->value);
    if (auto stamp = r.msg.find(wire::attr::timestamp)) return on_timestamped(r, entry, lifetime, *stamp);
    return challenge(r, wire::error::unauthenticated, "unauthenticated");
  }
  const auto issued = nonces.valid(nonce->value, r.source, r.now, options.nonce_lifetime);
  if (!issued) return challenge(r, wire::error::stale_nonce, "stale nonce");
  if (!signed_by(r, entry.key)) {
    ++stats.auth_failed;
    return challenge(r, wire::error::unauthenticated, "bad signature");
  }
  return register_verified(r, entry, lifetime, *issued);
}

std::span<const std::byte> broker::impl::register_verified(const request& r, registration_record& entry,
                                                           std::chrono::seconds lifetime, std::uint32_t issued) {
  const std::string_view id = entry.id();
  entry.nonce_time = issued;

  const bool live = reg.find(id, r.now, found_b);
  // A dual-stack peer registers over each family: a signed Register from the other family
  // than the stored address adds that family's; from the same family it moves the
  // registration there, and keeps the other family's.
  if (live && found_b.key == entry.key) {
    if (r.source.address().is_v4() != found_b.reflexive.address().is_v4()) {
      entry.reflexive_alt = r.source;
      entry.reflexive = found_b.reflexive;
    } else {
      entry.reflexive_alt = found_b.reflexive_alt;
    }
  }
  // A signed Register replayed from the address it came from, after a newer one (from there
  // or elsewhere) was taken: its NONCE is older than the stored one. The peer itself signs the
  // fresh NONCE of the 438 and gets through.
  if (live && found_b.key == entry.key && nonce_issuer::before(issued, found_b.nonce_time))
    return challenge(r, wire::error::stale_nonce, "stale nonce");
  const bool refresh = live && (found_b.reflexive == r.source || found_b.reflexive_alt == r.source);
  if (link) {
    // A new id, key or address is claimed in the cluster first: the answer waits for it. A
    // re-signed Register of what is registered only keeps the cluster's entry alive.
    const bool unchanged = live && found_b.key == entry.key && found_b.reflexive == entry.reflexive &&
                           found_b.reflexive_alt == entry.reflexive_alt && found_b.mapped == entry.mapped &&
                           std::ranges::equal(found_b.host(), entry.host());
    if (!unchanged) return claim(r, entry, lifetime, refresh);
    link->store.extend(entry, lifetime);
  }
  return accept_registration(r, entry, lifetime, refresh);
}

std::span<const std::byte> broker::impl::accept_registration(const request& r, registration_record& entry,
                                                             std::chrono::seconds lifetime, bool refresh) {
  const std::string_view id = entry.id();
  entry.expires = r.now + lifetime;
  if (auto ec = reg.upsert(entry, r.now)) {
    if (ec == errc::id_taken) return error(r, wire::error::forbidden, "PEER-ID held by another key");
    if (ec == errc::registry_full) return error(r, wire::error::insufficient_capacity, "registry full");
    return error(r, wire::error::server_error, "registry failure");
  }
  ++stats.registrations;
  if (link) hold(id);
  // Built only when someone listens: the event's strings would allocate per request.
  if (on_event)
    emit({.what = refresh ? broker_event::kind::refreshed : broker_event::kind::registered,
          .id = std::string(id), .target = {}, .address = r.source, .lifetime = lifetime});

  stun::builder b(out, stun::message_class::success_response, wire::method::register_peer, r.msg.id());
  b.add_xor_address(stun::attr::xor_mapped_address, r.source);
  b.add_u32(wire::attr::lifetime, static_cast<std::uint32_t>(lifetime.count()));
  // For the keepalive's refreshes, which then need no signature while nothing changes.
  b.add(wire::attr::refresh_credential, credentials.issue(r.source, entry.key, id, r.now));
  // Where the peer can measure its NAT's mapping (docs/protocol.md, "NAT mapping discovery").
  if (options.other_address) b.add_address(wire::attr::other_address, *options.other_address);
  return finish(r, b);
}

std::span<const std::byte> broker::impl::on_refresh(const request& r, registration_record& entry,
                                                    std::chrono::seconds lifetime,
                                                    std::span<const std::byte> credential) {
  // Each refusal is a 438 with a fresh NONCE: the peer signs over it at once, as after any
  // change (a new address, other candidates, the broker restarted with another secret).
  switch (credentials.check(credential, r.source, entry.key, entry.id(), r.now, options.refresh_lifetime)) {
    case refresh_issuer::verdict::good: break;
    case refresh_issuer::verdict::stale: return challenge(r, wire::error::stale_nonce, "stale credential");
    case refresh_issuer::verdict::bad: return challenge(r, wire::error::stale_nonce, "bad credential");
  }
  // A refresh extends what is registered and changes nothing else: a credential copied from an
  // older registration cannot bring that one back once the peer moved or changed it.
  // The cluster's entry follows a NAT-MAPPING the peer measured after its first Register
  // (peers elsewhere choose how to punch by it); anything else a refresh cannot change.
  const bool nat_changed = link && reg.find(entry.id(), r.now, found_b) && found_b.nat != entry.nat;
  if (!reg.extend(entry, r.now)) return challenge(r, wire::error::stale_nonce, "registration changed");
  if (nat_changed) {
    found_b.nat = entry.nat;
    link->store.claim(found_b, lifetime, [](error_code) {});  // the same key: nothing to refuse
  } else if (link) {
    link->store.extend(entry, lifetime);  // lazy: most calls cost the store nothing
  }
  ++stats.registrations;
  ++stats.refreshes;
  if (on_event)
    emit({.what = broker_event::kind::refreshed, .id = std::string(entry.id()), .target = {}, .address = r.source,
          .lifetime = lifetime});

  stun::builder b(out, stun::message_class::success_response, wire::method::register_peer, r.msg.id());
  b.add_xor_address(stun::attr::xor_mapped_address, r.source);
  b.add_u32(wire::attr::lifetime, static_cast<std::uint32_t>(lifetime.count()));
  if (options.other_address) b.add_address(wire::attr::other_address, *options.other_address);
  return finish(r, b);
}

std::span<const std::byte> broker::impl::challenge(const request& r, int code, std::string_view reason) {
  stun::builder b(out, stun::message_class::error_response, r.msg.method(), r.msg.id());
  b.add_error_code(code, reason.substr(0, max_reason_size));
  b.add(wire::attr::nonce, nonces.issue(r.source, r.now));
  if (b.error()) return error(r, wire::error::server_error, "answer does not fit");
  if (!fits(r, b)) return pad_error(r, b.size() + stun::fingerprint_size);
  ++stats.challenges;
  ++stats.errors_sent;
  return b.finish_with_fingerprint();
}

bool broker::impl::signed_by(const request& r, const public_key& key) {
  std::optional<stun::attribute> sig;
  for (const stun::attribute a : r.msg) {
    if (!sig) {
      if (a.type == wire::attr::signature) sig = a;
    } else if (a.type != stun::attr::fingerprint) {
      return false;
    }
  }
  if (!sig || sig->value.size() != signature_size) return false;
  const auto signed_bytes = r.msg.covered_by(wire::attr::signature, covered);
  if (!signed_bytes) return false;
  signature value;
  std::copy(sig->value.begin(), sig->value.end(), value.begin());
  ++stats.signatures_verified;
  verifications.count(r.now);
  return verify(key, *signed_bytes, value);
}

}  // namespace punch
