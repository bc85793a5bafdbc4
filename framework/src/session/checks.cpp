// Punch checks: rounds of checks to every candidate pair at once on a short schedule until
// one answers, a moment's grace for IPv6, checks on the direct pairs while relayed, answers
// to the other side's checks (learning peer-reflexive candidates, triggered checks), and the
// answers to ours.
#include "session/session_state.hpp"

#include "session/connection_state.hpp"
#include "session/random_ids.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstring>
#include <sstream>

namespace punch::detail {

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

datagram_socket& session_state::socket_of(const punch_attempt& a, std::size_t via) {
  if (via == turn_via) return turn ? turn->socket : socket;  // closed with the allocation: sends fail
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
  if (to.via == turn_via) b.add(wire::attr::relayed, {});
  auto msg = seal_check(a, b);
  checks[id] = check_ref{a.weak_from_this(), to, nominate, time.now()};
  a.checks.push_back(id);
  co_await socket_of(a, to.via).async_send_to(asio::buffer(msg.data(), msg.size()), to.address,
                                              asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<detail::outcome<void>> session_state::punch(std::shared_ptr<punch_attempt> a, clock::time_point deadline) {
  std::size_t round = 0;
  // One NAT hard, the other easy: plain punching fails against port-restricted filtering.
  // Either mapping may still be unknown here (measured beside the registration, it may not
  // have reached the broker yet): predict() decides when it is due, with what it knows then.
  const bool hard = nat == nat_mapping::endpoint_dependent;
  const bool peer_hard = a->peer_nat == nat_mapping::endpoint_dependent;
  const bool both_known = nat != nat_mapping::unknown && a->peer_nat != nat_mapping::unknown;
  const auto mode = options.path_policy.mode;
  if (options.prediction.enabled && mode != path_mode::relay_only && !(both_known && hard == peer_hard) &&
      a->peer_reflexive.port() != 0) {
    // A pair that answers within `after` plus three broker round trips (cone filtering on the
    // easy side, a shared LAN; the peers' round trip is about the broker's on a slow network)
    // makes prediction unnecessary.
    a->prediction_start = a->started + options.prediction.after + 3 * broker_rtt;
    asio::co_spawn(ex, predict(a), asio::detached);
  }
  // After the prediction's start is known: the relay waits for it (and co_spawn may run the
  // coroutine up to its first wait at once).
  if (options.relay && mode != path_mode::direct_only) asio::co_spawn(ex, allocate_relay(a, deadline), asio::detached);
  if (turn && turn->live && mode != path_mode::direct_only) asio::co_spawn(ex, permit_turn_for(a, deadline), asio::detached);
  try {
    while (!closed && !a->done.fired() && time.now() < deadline) {
      // Index loop: a check that arrives meanwhile may add a peer-reflexive candidate.
      for (std::size_t i = 0; i < a->remotes.size() && !a->done.fired(); ++i)
        if (allowed(a->remotes[i])) co_await send_check(*a, a->remotes[i], false);
      co_await a->done.wait_until(std::min(time.now() + round_gap(round++), deadline));
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
      co_await a->ipv6_answered.wait_until(std::min(time.now() + grace, deadline));
      a->waiting_for_ipv6 = false;
    }
  } catch (...) {
    // Cancelled (a timer or an event of ours threw operation_aborted): the attempt ends here.
    drop_attempt(*a);
    throw;
  }
  if (!a->selected) {
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(time.now() - a->started);
    drop_attempt(*a);
    if (closed) co_return detail::fail(errc::session_closed, "punching to \"" + a->peer + "\": session closed");
    // A policy that ruled out a kind of path says so: the other kind might have worked.
    const auto ec = make_error_code(mode == path_mode::direct_only  ? errc::no_direct_path
                                    : mode == path_mode::relay_only ? errc::no_relayed_path
                                                                    : errc::punch_timeout);
    emit({.what = session_event::kind::punch_failed, .peer = a->peer, .elapsed = waited, .error = ec});
    std::ostringstream what;
    what << "hole punching to \"" << a->peer << "\" timed out after " << static_cast<double>(waited.count()) / 1000.0
         << " s (" << describe(*a) << ")";
    if (mode == path_mode::direct_only) what << ": no direct pair answered, and the path policy (direct only) forbids a relay";
    if (mode == path_mode::relay_only) what << ": no relayed pair answered, and the path policy (relay only) forbids a direct one";
    co_return detail::fail(ec, what.str());
  }
  co_return detail::outcome<void>{};
}

asio::awaitable<detail::outcome<std::shared_ptr<connection_state>>> session_state::run_punch(
    std::shared_ptr<punch_attempt> a, clock::time_point deadline) {
  if (auto punched = co_await punch(a, deadline); !punched) co_return std::move(punched).error();
  co_return make_connection(*a);
}

asio::awaitable<void> session_state::keep_trying_direct(std::shared_ptr<punch_attempt> a) {
  auto self = shared_from_this();
  punch::timer timer(ex, time);
  const auto until = time.now() + options.punch_timeout;
  for (std::size_t round = 0; !closed && time.now() < until; ++round) {
    {
      auto c = a->conn.lock();
      if (!c || !c->open || c->path != path_kind::relay) co_return;
    }
    for (std::size_t i = 0; i < a->remotes.size(); ++i)
      if (a->remotes[i].kind != path_kind::relay && allowed(a->remotes[i])) co_await send_check(*a, a->remotes[i], false);
    timer.expires_after(round_gap(round));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> session_state::handle_check_request(const stun::message& m, const endpoint& from,
                                                         std::size_t via, const punch_attempt* owner) {
  punch_id id;
  if (!read_punch_id(m, id)) co_return;
  auto it = punches.find(id);
  if (it == punches.end()) co_return;  // stray or spoofed: no introduction with this id
  auto a = it->second;
  if (via != 0 && via != turn_via && a.get() != owner) co_return;  // a prediction socket serves its own attempt only
  // A check names its sender: it must be the peer this token introduced us to.
  if (auto sender = m.find(wire::attr::peer_id); !sender || stun::decode_string(*sender) != a->peer) co_return;
  // Our own check, looped back to us (same role, same tie-breaker): never a path.
  if (auto role = m.find(a->controlling ? wire::attr::ice_controlling : wire::attr::ice_controlled)) {
    error_code ec;
    if (auto v = stun::decode_u64(*role, ec); v && *v == a->tiebreaker) co_return;
  }
  // The policy's forbidden paths get no answer (under relay_only an answer would go to the
  // peer's own address; under direct_only a relayed pair must not be chosen).
  const bool through_relay = ours_relayed(from, via) || m.find(wire::attr::relayed).has_value();
  const remote_candidate* known = a->find(from, via);
  if (!allowed(from, via, through_relay ? path_kind::relay : known ? known->kind : path_kind::peer_reflexive)) co_return;
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
  if (via == turn_via) b.add(wire::attr::relayed, {});
  auto reply = seal_check(*a, b);
  co_await socket_of(*a, via).async_send_to(asio::buffer(reply.data(), reply.size()), from,
                                            asio::as_tuple(asio::use_awaitable));

  if (m.find(wire::attr::relayed))
    for (auto& r : a->remotes)
      if (r.address == from && r.via == via) r.kind = path_kind::relay;
  std::optional<remote_candidate> learned;
  if (!a->find(from, via) && a->remotes.size() < max_remotes) {
    // Through our relay: the other side's allocation forwarded it. On one of our prediction
    // sockets, or from a port of the hard peer's address we probed: port prediction's.
    // Through a TURN allocation: ours (turn_via), or the peer's (it says so, RELAYED).
    const bool relayed = (options.relay && from == *options.relay && via == 0) || via == turn_via ||
                         m.find(wire::attr::relayed).has_value();
    const bool predicted = (via != 0 && via != turn_via) || (a->probing && from.address() == a->peer_reflexive.address());
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
  remote_candidate target = rc ? *rc : ref.target;
  // The peer's relayed candidate looked like any other until its answer said RELAYED (authentic:
  // checked above): from now on it is the relay that a direct path replaces.
  if (m.find(wire::attr::relayed) && target.kind != path_kind::relay) {
    target.kind = path_kind::relay;
    for (auto& r : a->remotes)
      if (r.address == target.address && r.via == target.via) r.kind = path_kind::relay;
  }
  if (!allowed(target)) return;  // the peer's relayed candidate, under direct_only
  if (target.kind == path_kind::relay) a->relay_pair = target;
  if (ref.nomination) {
    // Both sides now use this pair: the connection moves there (from the relay, if relayed).
    switch_path(*a, target);
    a->nominated.fire();
    return;
  }
  if (!a->selected) {
    a->selected = target;
    a->selected_rtt = time.now() - ref.sent;
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
  if (a->controlling && c && c->open && c->attempt.get() == a.get() && better && !a->upgrading && !c->held_on_relay) {
    a->upgrading = true;
    a->nominated.reset();
    asio::co_spawn(ex, nominate(a, target), asio::detached);
  }
}

}  // namespace punch::detail
