// Registration with the broker: Register signed over a TIMESTAMP (or, when the broker refuses
// that, over its NONCE), then refreshed with its REFRESH-CREDENTIAL; the same over the other
// address family; the discovery of our NAT's mapping (one Binding to the broker's other port),
// beside the registration; and the keepalive that refreshes
// the registration and the NAT mapping together.
#include "session/session_state.hpp"

#include "session/fail.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace punch::detail {

using detail::fail;

asio::awaitable<detail::outcome<registration_info>> session_state::do_register(clock::time_point deadline, broker_link* over) {
  broker_link& link = over ? *over : broker_main;
  auto& nonce = link.nonce;
  auto& refresh_credential = link.refresh_credential;
  const std::optional<endpoint> server = over ? std::optional<endpoint>(link.to) : std::nullopt;
  const std::string what = "registering \"" + options.id + "\"";
  // The broker binds our id to our key: a Register is signed, over a TIMESTAMP of our clock
  // when we hold no NONCE of this broker (taken on its first datagram if our clock agrees
  // with the broker's), else over that NONCE (docs/protocol.md). A refused TIMESTAMP (our
  // clock is off, the broker is busy), or a stale NONCE, is answered 401/438 with a fresh
  // NONCE, and we ask again at once. Its answer carries a REFRESH-CREDENTIAL:
  // while nothing we register changes, the keepalive sends that instead of a signature, which
  // spares the broker a signature verification per refresh.
  // NAT-MAPPING may change under a credential: telling the broker what discovery measured
  // right after the first Register costs no second signature.
  bool refreshing = !refresh_credential.empty();
  std::optional<response> answer;
  const auto announcing = mapped;
  const auto announcing_turn = turn && turn->live ? std::optional<endpoint>(turn->relayed) : std::nullopt;
  for (int attempt = 1; !answer;) {
    const bool signing = !refreshing;
    const bool stamped = signing && nonce.empty();
    auto r = co_await request(
        wire::method::register_peer,
        [&](stun::builder& b) {
          b.add_string(wire::attr::peer_id, options.id);
          b.add_u32(wire::attr::lifetime, static_cast<std::uint32_t>(options.lifetime.count()));
          for (const auto& h : host_candidates) b.add_xor_address(wire::attr::host_candidate, h);
          // Our TURN allocation's address is announced like a host candidate: peers learn it
          // from the introduction and check it (docs/relay.md, "TURN").
          if (turn && turn->live && host_candidates.size() < wire::max_host_candidates)
            b.add_xor_address(wire::attr::host_candidate, turn->relayed);
          if (mapped) b.add_xor_address(wire::attr::mapped_candidate, *mapped);
          b.add(wire::attr::public_key, me.key());
          if (nat != nat_mapping::unknown) b.add_u32(wire::attr::nat_mapping, static_cast<std::uint32_t>(nat));
          if (refreshing) b.add(wire::attr::refresh_credential, refresh_credential);
          if (stamped) b.add_u64(wire::attr::timestamp, timestamp_now());
          if (signing && !stamped) b.add(wire::attr::nonce, nonce);
        },
        deadline, what, signing, server);
    if (r) {
      answer.emplace(std::move(*r));
      break;
    }
    if (r.error().code != errc::authentication_failed) co_return std::move(r).error();
    // A refused refresh (the credential expired, our address changed, the broker restarted)
    // comes with a fresh NONCE: sign over it at once.
    if (refreshing) {
      refreshing = false;
      refresh_credential.clear();
      continue;
    }
    // Once over a TIMESTAMP and once with a stale nonce may be refused; not more.
    if (++attempt > 3 || nonce.empty()) co_return std::move(r).error();
  }
  auto& r = *answer;
  // A signed Register's answer: the credential for the refreshes to come.
  if (auto c = r.msg.find(wire::attr::refresh_credential); c && c->value.size() == wire::refresh_credential_size) {
    refresh_credential.assign(c->value.begin(), c->value.end());
  }
  if (!over) {
    announced_mapped = announcing;
    announced_turn = announcing_turn;
  }
  registration_info info;
  error_code ec;
  auto mapped = r.msg.find(stun::attr::xor_mapped_address);
  auto reflexive = mapped ? stun::decode_xor_address(*mapped, r.msg.id(), ec) : std::nullopt;
  if (!reflexive) co_return fail(errc::bad_response, what + ": broker's answer lacks XOR-MAPPED-ADDRESS");
  info.reflexive = *reflexive;
  if (auto lt = r.msg.find(wire::attr::lifetime))
    if (auto v = stun::decode_u32(*lt, ec)) info.lifetime = std::chrono::seconds(*v);
  if (auto other = r.msg.find(wire::attr::other_address))
    if (auto ep = stun::decode_address(*other, ec)) {
      // An unspecified address (a broker listening on every address): the one we reached it at.
      if (!over) other_address = ep->address().is_unspecified() ? endpoint(link.to.address(), ep->port()) : *ep;
    }
  info.nat = nat;
  info.broker = broker_main.to;
  co_return info;
}

std::uint64_t session_state::timestamp_now() const {
  const auto wall = wall_time(time) + options.wall_clock_offset;
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch()).count());
}

asio::awaitable<void> session_state::register_other_family(registration_info& info, clock::time_point deadline) {
  if (!broker_alt) co_return;
  auto other = co_await do_register(deadline, &*broker_alt);
  // Failed: that family does not reach the broker (no route, a firewall); the other one stands.
  info.reflexive_other = other ? std::optional<endpoint>(other->reflexive) : std::nullopt;
}

asio::awaitable<void> session_state::discover_nat(const registration_info& info, clock::time_point deadline) {
  if (!other_address) co_return;
  auto r = co_await request(wire::method::binding, [](stun::builder&) {}, deadline, "measuring our NAT's mapping",
                            false, *other_address);
  // No answer from the other port (filtered, or not served): the mapping stays unknown.
  if (!r) co_return;
  error_code ec;
  auto mapped = r->msg.find(stun::attr::xor_mapped_address);
  auto seen = mapped ? stun::decode_xor_address(*mapped, r->msg.id(), ec) : std::nullopt;
  if (!seen) co_return;
  // The same external address toward another destination port: endpoint-independent.
  nat = *seen == info.reflexive ? nat_mapping::endpoint_independent : nat_mapping::endpoint_dependent;
}

asio::awaitable<void> session_state::discover_beside(registration_info info, clock::time_point deadline, bool measure) {
  auto self = shared_from_this();
  struct settle {
    session_state& s;
    ~settle() { s.nat_settled.fire(); }
  } guard{*this};
  const std::size_t at = broker_index;
  if (measure) co_await discover_nat(info, std::min(deadline, time.now() + options.request_rto * 4));
  // Failover moved us meanwhile: that broker measures us again with its own second port.
  if (closed || broker_index != at) co_return;
  // Told at once, on the REFRESH-CREDENTIAL of the answer we just had: no second signature.
  // Best effort: if this one is lost, the next refresh carries NAT-MAPPING. Sent whatever we
  // measured: it proves our address to the broker (failover.cpp).
  auto told = co_await do_register(deadline);
  if (!told || closed || broker_index != at || !measure || nat == nat_mapping::unknown) co_return;
  registration.nat = nat;
  emit({.what = session_event::kind::refreshed, .peer = options.id, .address = told->reflexive, .nat = nat});
}

// Refreshes the registration and, with it, the NAT mapping toward the broker. After a broker
// restart the refresh simply registers again.
asio::awaitable<void> session_state::keepalive_loop() {
  auto self = shared_from_this();
  while (!closed) {
    keepalive_timer.expires_after(options.keepalive);
    co_await keepalive_timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (closed) break;
    const auto deadline = time.now() + refresh_budget();
    auto refreshed = co_await do_register(deadline);
    if (!refreshed) {
      if (closed) break;
      emit({.what = session_event::kind::refresh_failed, .peer = options.id, .error = refreshed.error().code});
      // Silence, not a refusal: the broker is gone (or cut off from us); another one may not be.
      if (refreshed.error().code == errc::broker_unreachable) co_await fail_over();
      continue;
    }
    auto& info = *refreshed;
    co_await register_other_family(info, deadline);
    const bool changed = info.reflexive != registration.reflexive || info.reflexive_other != registration.reflexive_other;
    registration = info;
    emit({.what = session_event::kind::refreshed, .peer = options.id, .address = info.reflexive});
    // Our NAT gave us another address (a reboot, a mapping that expired, another network):
    // every connection checks its path at once instead of at its next silence.
    if (changed) moved();
  }
  keepalive_running = false;
}

}  // namespace punch::detail
