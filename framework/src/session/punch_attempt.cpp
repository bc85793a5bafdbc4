// A punch attempt's life: made from an introduction (its candidate pairs in order, its
// ephemeral key and handshake signature), finished (no more checks), dropped (forgotten,
// its held frames with it), and destroyed (its secret wiped, its sockets closed).
#include "session/session_state.hpp"

#include "session/random_ids.hpp"

#include <sodium.h>

#include <algorithm>

namespace punch::detail {

std::shared_ptr<punch_attempt> session_state::make_attempt(const wire::token& token, std::string peer,
                                                           bool controlling, const peer_info& remote) {
  auto a = std::make_shared<punch_attempt>(ex, time);
  a->token = token;
  a->keys = wire::derive_keys(token);
  a->peer = std::move(peer);
  a->peer_key = remote.key;
  a->peer_nat = remote.nat;
  a->peer_reflexive = remote.reflexive;
  // Two hard NATs cannot punch, unless a gateway forwards a port to one side (`mapped`).
  a->relay_first = nat == nat_mapping::endpoint_dependent && remote.nat == nat_mapping::endpoint_dependent &&
                   !remote.mapped && !mapped;
  crypto_kx_keypair(reinterpret_cast<unsigned char*>(a->ephemeral_public.data()),
                    reinterpret_cast<unsigned char*>(a->ephemeral_secret.data()));
  // One signature per attempt: every check carries it, MESSAGE-INTEGRITY-SHA256 protects each.
  a->handshake_signature = me.sign(wire::handshake_transcript(token, controlling, a->ephemeral_public));
  a->controlling = controlling;
  a->tiebreaker = detail::random_u64();
  a->started = time.now();
  // Then host candidates: an endpoint announced as both (a peer without NAT) counts as host.
  // A host candidate equal to one of ours is another LAN's private address that happens to
  // match: sending there would reach ourselves. Of each kind IPv6 first (RFC 8421): it needs
  // no NAT traversal behind the usual stateful firewall, and the first pair that answers wins.
  const endpoint local = socket.local_endpoint();
  const bool dual = local.address().is_v6() && local.address().is_unspecified();
  const auto reachable = [&](const endpoint& ep) { return dual || ep.address().is_v4() == local.address().is_v4(); };
  // The peer's gateway forwards this port to it, whatever its NAT does: tried first.
  if (remote.mapped && reachable(*remote.mapped) && *remote.mapped != mapped)
    a->remotes.push_back({*remote.mapped, path_kind::mapped});
  std::vector<endpoint> hosts(remote.host.begin(), remote.host.end());
  std::stable_partition(hosts.begin(), hosts.end(), [](const endpoint& e) { return e.address().is_v6(); });
  for (const auto& h : hosts) {
    const bool ours = h == local || std::find(host_candidates.begin(), host_candidates.end(), h) != host_candidates.end();
    if (!ours && reachable(h) && !a->find(h)) a->remotes.push_back({h, path_kind::host});
  }
  std::vector<endpoint> reflexive;
  if (remote.reflexive.port() != 0) reflexive.push_back(remote.reflexive);
  if (remote.reflexive_other) reflexive.push_back(*remote.reflexive_other);
  std::stable_partition(reflexive.begin(), reflexive.end(), [](const endpoint& e) { return e.address().is_v6(); });
  for (const auto& r : reflexive)
    if (reachable(r) && !a->find(r)) a->remotes.push_back({r, path_kind::reflexive});
  punches[a->keys.punch_id] = a;
  unconnected[a->keys.tag] = a;
  return a;
}

punch_attempt::~punch_attempt() {
  sodium_memzero(ephemeral_secret.data(), ephemeral_secret.size());
  // Their receive loops hold them: closing ends the loops.
  for (auto& s : spray)
    if (s) s->close();
}

void session_state::drop_attempt(punch_attempt& a) {
  finish_attempt(a);
  stats.frames_held_dropped += a.held.size();
  a.held.clear();
  a.held_bytes = 0;
  unconnected.erase(a.keys.tag);
  punches.erase(a.keys.punch_id);
}

void session_state::finish_attempt(punch_attempt& a) {
  a.finished = true;
  for (const auto& id : a.checks) checks.erase(id);
  a.checks.clear();
}

}  // namespace punch::detail
