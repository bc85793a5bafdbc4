// Hole punching: checks to every candidate pair at once on a short schedule, answers to the
// other side's checks, peer-reflexive candidates, and nomination by the controlling side.
#include "session/session_state.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sodium.h>

#include <algorithm>
#include <sstream>

namespace punch {

namespace {

// Rounds of checks: every pair at once, quickly at first (most paths open within one round
// trip), then backing off. Not ICE's fixed 50 ms pacing per pair.
std::chrono::milliseconds round_gap(std::size_t round) {
  using std::chrono::milliseconds;
  static constexpr milliseconds gaps[] = {milliseconds(50),  milliseconds(50),  milliseconds(100),
                                          milliseconds(100), milliseconds(200), milliseconds(200)};
  return round < std::size(gaps) ? gaps[round] : milliseconds(400);
}

// The least an IPv4 pair that answered first waits for an IPv6 one (RFC 8305 waits 50 ms
// before it even tries IPv4; both are tried at once here, so far less is enough).
constexpr std::chrono::milliseconds ipv6_grace_floor{10};

// The controlling side repeats its USE-CANDIDATE check until it is answered.
constexpr int nomination_attempts = 10;
constexpr std::chrono::milliseconds nomination_gap{100};
// Peer-reflexive candidates learned per attempt, at most (each costs a check per round).
constexpr std::size_t max_remotes = 16;

using punch_id = std::array<std::byte, 8>;

bool read_punch_id(const stun::message& m, punch_id& out) {
  auto t = m.find(wire::attr::punch_id);
  if (!t || t->value.size() != out.size()) return false;
  std::memcpy(out.data(), t->value.data(), out.size());
  return true;
}

std::string describe(const punch_attempt& a) {
  std::ostringstream s;
  s << a.remotes.size() << " candidate" << (a.remotes.size() == 1 ? "" : "s");
  const char* sep = ": ";
  for (const auto& r : a.remotes) {
    s << sep << r.address << " (" << to_string(r.kind) << ")";
    sep = ", ";
  }
  return s.str();
}

}  // namespace

std::shared_ptr<punch_attempt> session_state::make_attempt(const wire::token& token, std::string peer,
                                                           bool controlling, const peer_info& remote) {
  auto a = std::make_shared<punch_attempt>(ex);
  a->token = token;
  a->keys = wire::derive_keys(token);
  a->peer = std::move(peer);
  a->peer_key = remote.key;
  a->peer_nat = remote.nat;
  a->peer_reflexive = remote.reflexive;
  a->relay_first = nat == nat_mapping::endpoint_dependent && remote.nat == nat_mapping::endpoint_dependent;
  crypto_kx_keypair(reinterpret_cast<unsigned char*>(a->ephemeral_public.data()),
                    reinterpret_cast<unsigned char*>(a->ephemeral_secret.data()));
  // One signature per attempt: every check carries it, MESSAGE-INTEGRITY-SHA256 protects each.
  a->handshake_signature = me.sign(wire::handshake_transcript(token, controlling, a->ephemeral_public));
  a->controlling = controlling;
  a->tiebreaker = detail::random_u64();
  a->started = clock::now();
  // Host candidates first: an endpoint announced as both (a peer without NAT) counts as host.
  // A host candidate equal to one of ours is another LAN's private address that happens to
  // match: sending there would reach ourselves. Of each kind IPv6 first (RFC 8421): it needs
  // no NAT traversal behind the usual stateful firewall, and the first pair that answers wins.
  const endpoint local = socket.local_endpoint();
  const bool dual = local.address().is_v6() && local.address().is_unspecified();
  const auto reachable = [&](const endpoint& ep) { return dual || ep.address().is_v4() == local.address().is_v4(); };
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

datagram_socket& session_state::socket_of(const punch_attempt& a, std::size_t via) {
  if (via == 0 || via > a.spray.size() || !a.spray[via - 1]) return socket;
  return *a.spray[via - 1];
}

asio::awaitable<void> session_state::send_check(punch_attempt& a, remote_candidate to, bool nominate) {
  const auto id = detail::random_transaction_id();
  std::array<std::byte, 512> buf;
  stun::builder b(buf, stun::message_class::request, wire::method::binding, id);
  b.add(wire::attr::punch_id, a.keys.punch_id);
  b.add_string(wire::attr::peer_id, options.id);
  b.add_u64(a.controlling ? wire::attr::ice_controlling : wire::attr::ice_controlled, a.tiebreaker);
  if (nominate) b.add(wire::attr::use_candidate, {});
  auto msg = seal_check(a, b);
  checks[id] = check_ref{a.weak_from_this(), to, nominate, clock::now()};
  a.checks.push_back(id);
  co_await socket_of(a, to.via).async_send_to(asio::buffer(msg.data(), msg.size()), to.address,
                                              asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<void> session_state::punch(std::shared_ptr<punch_attempt> a, clock::time_point deadline) {
  std::size_t round = 0;
  // One NAT hard, the other easy: plain punching fails against port-restricted filtering.
  const bool hard = nat == nat_mapping::endpoint_dependent;
  const bool peer_hard = a->peer_nat == nat_mapping::endpoint_dependent;
  if (options.prediction.enabled && nat != nat_mapping::unknown && a->peer_nat != nat_mapping::unknown &&
      hard != peer_hard && a->peer_reflexive.port() != 0) {
    // A pair that answers within `after` plus three broker round trips (cone filtering on the
    // easy side, a shared LAN; the peers' round trip is about the broker's on a slow network)
    // makes prediction unnecessary.
    a->prediction_start = a->started + options.prediction.after + 3 * broker_rtt;
    asio::co_spawn(ex, predict(a), asio::detached);
  }
  // After the prediction's start is known: the relay waits for it (and co_spawn may run the
  // coroutine up to its first wait at once).
  if (options.relay) asio::co_spawn(ex, allocate_relay(a, deadline), asio::detached);
  try {
    while (!closed && !a->done.fired() && clock::now() < deadline) {
      // Index loop: a check that arrives meanwhile may add a peer-reflexive candidate.
      for (std::size_t i = 0; i < a->remotes.size() && !a->done.fired(); ++i)
        co_await send_check(*a, a->remotes[i], false);
      co_await a->done.wait_until(std::min(clock::now() + round_gap(round++), deadline));
    }
    // IPv4 answered first, and IPv6 pairs are being checked: their answers were sent about
    // when this one was, so a quarter of its round trip (at least ipv6_grace_floor, for
    // networks where a round trip is less than a check's first crossing) lets one arrive.
    const auto v6 = [](const remote_candidate& r) { return r.kind != path_kind::relay && r.address.address().is_v6(); };
    if (a->selected && !v6(*a->selected) && a->selected->kind != path_kind::relay && !closed &&
        std::any_of(a->remotes.begin(), a->remotes.end(), v6)) {
      a->waiting_for_ipv6 = true;
      const auto grace = std::max<clock::duration>(std::chrono::duration_cast<clock::duration>(a->selected_rtt / 4),
                                                   ipv6_grace_floor);
      co_await a->ipv6_answered.wait_until(std::min(clock::now() + grace, deadline));
      a->waiting_for_ipv6 = false;
    }
  } catch (...) {
    drop_attempt(*a);
    throw;
  }
  if (!a->selected) {
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - a->started);
    drop_attempt(*a);
    if (closed) throw system_error(make_error_code(errc::connection_closed), "punching to \"" + a->peer + "\": session closed");
    const auto ec = make_error_code(errc::punch_timeout);
    emit({.what = session_event::kind::punch_failed, .peer = a->peer, .elapsed = waited, .error = ec});
    std::ostringstream what;
    what << "hole punching to \"" << a->peer << "\" timed out after " << static_cast<double>(waited.count()) / 1000.0
         << " s (" << describe(*a) << ")";
    throw system_error(ec, what.str());
  }
}

asio::awaitable<std::shared_ptr<connection_state>> session_state::run_punch(std::shared_ptr<punch_attempt> a,
                                                                            clock::time_point deadline) {
  co_await punch(a, deadline);
  co_return make_connection(*a);
}

std::shared_ptr<connection_state> session_state::make_connection(punch_attempt& a) {
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
    throw system_error(make_error_code(errc::authentication_failed),
                       "handshake with \"" + a.peer + "\": unusable ephemeral key");
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
  emit({.what = session_event::kind::connected,
        .peer = a.peer,
        .address = c->remote,
        .path = c->path,
        .nat = a.peer_nat,
        .elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - a.started)});
  return c;
}

// The controlled side: punch back after an introduction and queue the connection for accept().
asio::awaitable<void> session_state::accept_introduction(std::shared_ptr<punch_attempt> a) {
  auto self = shared_from_this();
  try {
    auto c = co_await run_punch(a, clock::now() + options.punch_timeout);
    if (backlog.size() >= options.accept_backlog) {
      c->send_farewell();
      c->mark_closed(make_error_code(errc::connection_closed), "accept backlog full", false);
      co_return;
    }
    backlog.push_back(std::move(c));
    accept_ready.fire();
  } catch (const system_error&) {
    // punch_failed was emitted; accept() keeps waiting for the next introduction.
  }
}

// The controlling side tells the other which pair it chose (ICE's USE-CANDIDATE, RFC 8445 §7.2.2).
asio::awaitable<void> session_state::nominate(std::shared_ptr<punch_attempt> a, remote_candidate to) {
  auto self = shared_from_this();
  for (int i = 0; i < nomination_attempts && !closed && !a->nominated.fired(); ++i) {
    auto c = a->conn.lock();
    if (!c || !c->open) break;
    c.reset();
    co_await send_check(*a, to, true);
    co_await a->nominated.wait_until(clock::now() + nomination_gap);
  }
  a->upgrading = false;
}

asio::awaitable<void> session_state::keep_trying_direct(std::shared_ptr<punch_attempt> a) {
  auto self = shared_from_this();
  asio::steady_timer timer(ex);
  const auto until = clock::now() + options.punch_timeout;
  for (std::size_t round = 0; !closed && clock::now() < until; ++round) {
    {
      auto c = a->conn.lock();
      if (!c || !c->open || c->path != path_kind::relay) co_return;
    }
    for (std::size_t i = 0; i < a->remotes.size(); ++i)
      if (a->remotes[i].kind != path_kind::relay) co_await send_check(*a, a->remotes[i], false);
    timer.expires_after(round_gap(round));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

void session_state::switch_path(punch_attempt& a, const remote_candidate& to) {
  a.selected = to;
  auto c = a.conn.lock();
  if (!c || c->attempt.get() != &a || (c->remote == to.address && c->path == to.kind && c->via == to.via)) return;
  // The nomination settling both sides on one pair right after connect is no news; the
  // upgrades (from the relay to a direct path, from IPv4 to IPv6), and any move after a
  // re-introduction, are.
  const bool upgrade = (c->path == path_kind::relay && to.kind != path_kind::relay) ||
                       (to.kind != path_kind::relay && c->remote.address().is_v4() && to.address.address().is_v6());
  if (upgrade) return c->move_path(to);
  c->remote = to.address;
  c->path = to.kind;
  c->via = to.via;
}

asio::awaitable<void> session_state::handle_check_request(const stun::message& m, const endpoint& from,
                                                         std::size_t via, const punch_attempt* owner) {
  punch_id id;
  if (!read_punch_id(m, id)) co_return;
  auto it = punches.find(id);
  if (it == punches.end()) co_return;  // stray or spoofed: no introduction with this id
  auto a = it->second;
  if (via != 0 && a.get() != owner) co_return;  // a prediction socket serves its own attempt only
  // A check names its sender: it must be the peer this token introduced us to.
  if (auto sender = m.find(wire::attr::peer_id); !sender || stun::decode_string(*sender) != a->peer) co_return;
  // Our own check, looped back to us (same role, same tie-breaker): never a path.
  if (auto role = m.find(a->controlling ? wire::attr::ice_controlling : wire::attr::ice_controlled)) {
    error_code ec;
    if (auto v = stun::decode_u64(*role, ec); v && *v == a->tiebreaker) co_return;
  }
  // Every check has a fresh transaction id: one seen before is a replay (from anywhere).
  if (a->seen.contains(m.id())) {
    ++stats.checks_replayed;
    co_return;
  }
  if (a->seen.size() >= punch_attempt::max_seen || !authentic(*a, m)) co_return;
  a->seen.insert(m.id());

  std::array<std::byte, 512> buf;
  stun::builder b(buf, stun::message_class::success_response, wire::method::binding, m.id());
  b.add_xor_address(stun::attr::xor_mapped_address, from);
  b.add(wire::attr::punch_id, a->keys.punch_id);
  auto reply = seal_check(*a, b);
  co_await socket_of(*a, via).async_send_to(asio::buffer(reply.data(), reply.size()), from,
                                            asio::as_tuple(asio::use_awaitable));

  std::optional<remote_candidate> learned;
  if (!a->find(from, via) && a->remotes.size() < max_remotes) {
    // Through our relay: the other side's allocation forwarded it. On one of our prediction
    // sockets, or from a port of the hard peer's address we probed: port prediction's.
    const bool relayed = options.relay && from == *options.relay && via == 0;
    const bool predicted = via != 0 || (a->probing && from.address() == a->peer_reflexive.address());
    learned = remote_candidate{from, relayed ? path_kind::relay : predicted ? path_kind::predicted : path_kind::peer_reflexive, via};
    a->remotes.push_back(*learned);
  }
  if (!a->controlling && m.find(wire::attr::use_candidate)) {
    if (const remote_candidate* rc = a->find(from, via)) {
      switch_path(*a, *rc);
      a->done.fire();
    }
  }
  // A triggered check (RFC 8445 §7.3.1.4): the peer's check got through, so ours answered
  // now gets through too; waiting for our next round would cost up to its gap.
  if (!a->done.fired())
    if (const remote_candidate* rc = a->find(from, via)) co_await send_check(*a, *rc, false);
}

void session_state::handle_check_response(const stun::message& m, const endpoint& from, std::size_t via) {
  auto it = checks.find(m.id());
  if (it == checks.end()) return;
  const check_ref ref = it->second;
  auto a = ref.attempt.lock();
  if (!a) {
    checks.erase(it);
    return;
  }
  punch_id id;
  if (!read_punch_id(m, id) || id != a->keys.punch_id || from != ref.target.address || via != ref.target.via) return;
  if (!authentic(*a, m)) return;
  // A check to an address we never listed (a probe, a prediction socket's) gets its pair listed.
  const remote_candidate* rc = a->find(ref.target.address, ref.target.via);
  if (!rc && a->remotes.size() < max_remotes) a->remotes.push_back(ref.target);
  const remote_candidate target = rc ? *rc : ref.target;
  if (ref.nomination) {
    // Both sides now use this pair: the connection moves there (from the relay, if relayed).
    switch_path(*a, target);
    a->nominated.fire();
    return;
  }
  if (!a->selected) {
    a->selected = target;
    a->selected_rtt = clock::now() - ref.sent;
    a->done.fire();
    return;
  }
  if (a->waiting_for_ipv6 && target.kind != path_kind::relay && target.address.address().is_v6()) {
    a->selected = target;
    a->ipv6_answered.fire();
    return;
  }
  // A better pair answered (direct where the connection is relayed; IPv6 where it runs over
  // IPv4): the controlling side nominates it (the upgrade).
  auto c = a->conn.lock();
  const bool better = c && ((c->path == path_kind::relay && target.kind != path_kind::relay) ||
                            (target.kind != path_kind::relay && c->path != path_kind::relay &&
                             target.address.address().is_v6() && c->remote.address().is_v4()));
  if (a->controlling && c && c->open && c->attempt.get() == a.get() && better && !a->upgrading) {
    a->upgrading = true;
    a->nominated.reset();
    asio::co_spawn(ex, nominate(a, target), asio::detached);
  }
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

}  // namespace punch
