// Register requests as a peer builds them (docs/protocol.md, "Register"), for the broker tests
// that speak the protocol by hand: PEER-ID, LIFETIME, HOST-CANDIDATEs, PUBLIC-KEY, then — once
// the broker gave a NONCE — NONCE, PADDING and a SIGNATURE by the identity; FINGERPRINT. And
// the refresh that carries the broker's REFRESH-CREDENTIAL instead ("Refresh").
#pragma once

#include "punch/identity.hpp"
#include "punch/transport.hpp"
#include "punch/wire/protocol.hpp"
#include "punch/wire/stun.hpp"

#include <array>
#include <cstddef>
#include <cstring>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace broker_test {

using bytes = std::vector<std::byte>;

// A deterministic identity per number: tests name keys, they do not generate them.
inline punch::identity test_identity(int n) {
  std::array<std::byte, 32> seed{};
  seed[0] = std::byte(n);
  seed[31] = std::byte{0x5e};
  return punch::identity::from_seed(seed);
}

// What a Register says besides its key and proof.
struct register_fields {
  // A constructor, not an aggregate: the tests' {id, lifetime, host} stay complete for GCC's
  // -Wmissing-field-initializers when `mapped` is left out.
  register_fields(std::string i, std::optional<std::uint32_t> l = {}, std::vector<punch::endpoint> h = {},
                  std::optional<punch::endpoint> m = {})
      : id(std::move(i)), lifetime(l), host(std::move(h)), mapped(m) {}
  std::string id;
  std::optional<std::uint32_t> lifetime;
  std::vector<punch::endpoint> host;
  std::optional<punch::endpoint> mapped;  // MAPPED-CANDIDATE: what the peer's gateway granted
};

// How a Register is signed; the defaults are a peer's.
struct signing {
  const punch::identity* signer = nullptr;  // null: the Register's own identity
  std::function<void(std::span<std::byte>)> tamper;         // applied to the signature's bytes
  std::function<void(punch::stun::builder&)> after;         // attributes after the SIGNATURE
};

// What every Register of `who` starts with, signed, unsigned or a refresh.
inline void add_register_fields(punch::stun::builder& b, const punch::identity& who, const register_fields& f) {
  namespace wire = punch::wire;
  b.add_string(wire::attr::peer_id, f.id);
  if (f.lifetime) b.add_u32(wire::attr::lifetime, *f.lifetime);
  for (const auto& h : f.host) b.add_xor_address(wire::attr::host_candidate, h);
  if (f.mapped) b.add_xor_address(wire::attr::mapped_candidate, *f.mapped);
  b.add(wire::attr::public_key, who.key());
}

// The Register of `who`: unsigned without `nonce` (the first one, answered 401 with a NONCE),
// signed with it. The unsigned one is padded to `pad_to` (the session pads to
// wire::answer_bound::reg, the size of the challenge).
inline bytes register_request(const punch::identity& who, const register_fields& f,
                              std::span<const std::byte> nonce, const punch::stun::transaction_id& tid,
                              std::size_t pad_to = punch::wire::answer_bound::reg, const signing& how = {}) {
  namespace stun = punch::stun;
  namespace wire = punch::wire;
  std::array<std::byte, stun::max_message_size> buf;
  stun::builder b(buf, stun::message_class::request, wire::method::register_peer, tid);
  add_register_fields(b, who, f);
  const bool sign = !nonce.empty();
  if (sign) b.add(wire::attr::nonce, nonce);
  // A signed Register (164 bytes or more) is always larger than its answers.
  if (!sign) wire::pad_request(b, pad_to);
  if (sign) {
    const punch::identity& signer = how.signer ? *how.signer : who;
    b.add_covering(wire::attr::signature, punch::signature_size,
                   [&](std::span<const std::byte> covered, std::span<std::byte> out) {
                     const auto sig = signer.sign(covered);
                     std::memcpy(out.data(), sig.data(), sig.size());
                     if (how.tamper) how.tamper(out);
                   });
    if (how.after) how.after(b);
  }
  const auto out = b.finish_with_fingerprint();
  return {out.begin(), out.end()};
}

// The Register a session sends first (docs/protocol.md, "TIMESTAMP"): the same fields and
// PUBLIC-KEY, a TIMESTAMP of `ms` since 1970 instead of a NONCE, and a SIGNATURE over all of it.
// `signer`: another identity's signature, which the broker must refuse.
inline bytes timestamped_register_request(const punch::identity& who, const register_fields& f, std::uint64_t ms,
                                          const punch::stun::transaction_id& tid,
                                          const punch::identity* signer = nullptr) {
  namespace stun = punch::stun;
  namespace wire = punch::wire;
  std::array<std::byte, stun::max_message_size> buf;
  stun::builder b(buf, stun::message_class::request, wire::method::register_peer, tid);
  add_register_fields(b, who, f);
  b.add_u64(wire::attr::timestamp, ms);
  b.add_covering(wire::attr::signature, punch::signature_size,
                 [&](std::span<const std::byte> covered, std::span<std::byte> out) {
                   const auto sig = (signer ? *signer : who).sign(covered);
                   std::memcpy(out.data(), sig.data(), sig.size());
                 });
  const auto out = b.finish_with_fingerprint();
  return {out.begin(), out.end()};
}

// A refresh as a session's keepalive sends it (docs/protocol.md, "Refresh"): the same fields,
// PUBLIC-KEY, NAT-MAPPING when `nat` is set, the REFRESH-CREDENTIAL of the broker's answer to
// the signed Register, no NONCE and no SIGNATURE; padded to `pad_to` like an unsigned Register.
inline bytes refresh_request(const punch::identity& who, const register_fields& f,
                             std::span<const std::byte> credential, const punch::stun::transaction_id& tid,
                             std::optional<std::uint32_t> nat = std::nullopt,
                             std::size_t pad_to = punch::wire::answer_bound::reg) {
  namespace stun = punch::stun;
  namespace wire = punch::wire;
  std::array<std::byte, stun::max_message_size> buf;
  stun::builder b(buf, stun::message_class::request, wire::method::register_peer, tid);
  add_register_fields(b, who, f);
  if (nat) b.add_u32(wire::attr::nat_mapping, *nat);
  b.add(wire::attr::refresh_credential, credential);
  wire::pad_request(b, pad_to);
  const auto out = b.finish_with_fingerprint();
  return {out.begin(), out.end()};
}

// The REFRESH-CREDENTIAL in a broker answer, if any.
inline bytes credential_of(const punch::stun::message& m) {
  auto c = m.find(punch::wire::attr::refresh_credential);
  return c ? bytes(c->value.begin(), c->value.end()) : bytes{};
}

// The NONCE in a broker answer, if any.
inline bytes nonce_of(const punch::stun::message& m) {
  auto n = m.find(punch::wire::attr::nonce);
  return n ? bytes(n->value.begin(), n->value.end()) : bytes{};
}

}  // namespace broker_test
