// The session's TURN client (RFC 8656 over UDP): Allocate with the long-term credential round
// (RFC 8489 §9.2: 401 with REALM and NONCE, then USERNAME/REALM/NONCE/MESSAGE-INTEGRITY; 438
// answered once with the new NONCE), Refresh before expiry, CreatePermission for a peer's
// addresses only, ChannelBind, and the Refresh with LIFETIME 0 on close (docs/relay.md, "TURN").
#include "session/session_state.hpp"

#include "session/fail.hpp"
#include "session/random_ids.hpp"
#include "session/turn_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <sstream>

namespace punch::detail {

namespace {

using detail::fail;

constexpr std::uint32_t requested_lifetime = 600;  // seconds, RFC 8656 §3.2's default

std::string str(const endpoint& ep) {
  std::ostringstream s;
  s << ep;
  return s.str();
}

// The ERROR-CODE of an error answer: its code (0 when absent or malformed) and reason.
std::pair<int, std::string> error_of(const stun::message& m) {
  error_code ec;
  if (auto a = m.find(turn::attr::error_code))
    if (auto v = stun::decode_error_code(*a, ec)) return {v->code, std::string(v->reason)};
  return {0, {}};
}

// RFC 8489 §9.2.4: USERNAME, REALM, NONCE, then MESSAGE-INTEGRITY over all before it. Nothing
// before the first 401 (or at a server that never asked for credentials).
void add_credentials(stun::builder& b, const turn_allocation& t) {
  if (t.nonce.empty()) return;
  b.add_string(turn::attr::username, t.credentials.username);
  b.add_string(turn::attr::realm, t.realm);
  b.add(turn::attr::nonce, t.nonce);
  turn::add_message_integrity(b, t.key);
}

}  // namespace

// Sends `req` to the TURN server and retransmits it until an answer that `valid` accepts (an
// answer that it refuses, e.g. one with bad integrity, is ignored as if lost) or the deadline.
asio::awaitable<detail::outcome<std::vector<std::byte>>> session_state::turn_exchange(
    const stun::transaction_id& id, std::span<const std::byte> req, clock::time_point deadline, std::string_view what,
    const std::function<bool(std::span<const std::byte>)>& valid) {
  const endpoint to = turn->server.address;
  transaction tx(ex, time, to);
  const listed_transaction listed(requests, id, tx);
  auto rto = options.request_rto;
  const auto started = time.now();
  while (!closed && time.now() < deadline) {
    co_await socket.async_send_to(asio::buffer(req.data(), req.size()), to, asio::as_tuple(asio::use_awaitable));
    const auto wake = std::min(time.now() + rto, deadline);
    while (co_await tx.done.wait_until(wake) && !closed) {
      if (valid(tx.response)) co_return std::move(tx.response);
      ++stats.turn_answers_ignored;
      tx.done.reset();
      tx.response.clear();
    }
    rto = std::min<std::chrono::milliseconds>(rto * 2, std::chrono::seconds(1));
  }
  if (closed) co_return fail(errc::session_closed, std::string(what) + ": session closed");
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(time.now() - started);
  co_return fail(errc::turn_unreachable, std::string(what) + ": no answer from TURN server " + str(to) + " after " +
                                             std::to_string(waited.count()) + " ms");
}

asio::awaitable<detail::outcome<session_state::response>> session_state::turn_request(
    std::uint16_t method, std::function<void(stun::builder&)> build, clock::time_point deadline, std::string_view what) {
  auto self = shared_from_this();
  auto t = turn;
  bool nonce_renewed = false;
  // Three rounds at most: the 401 that gives REALM and NONCE, and one 438 with a new NONCE.
  for (int round = 0; round < 3 && !closed; ++round) {
    const bool authenticated = !t->nonce.empty();
    const auto id = detail::random_transaction_id();
    std::array<std::byte, stun::max_message_size> buf;
    stun::builder b(buf, stun::message_class::request, method, id);
    build(b);
    add_credentials(b, *t);
    const auto req = b.finish_with_fingerprint();
    if (b.error()) co_return fail(b.error(), std::string(what) + ": request does not fit");
    // RFC 8489 §9.2.5: an answer to an authenticated request must carry valid integrity,
    // except the 401/438 that tell us our credential or nonce is not good; others are ignored.
    auto valid = [&](std::span<const std::byte> d) {
      error_code ec;
      auto m = stun::message::parse(d, ec);
      if (!m || m->method() != method) return false;
      if (!authenticated) return true;
      if (m->cls() == stun::message_class::error_response) {
        const int code = error_of(*m).first;
        if (code == turn::error::unauthorized || code == turn::error::stale_nonce) return true;
      }
      return turn::check_message_integrity(*m, t->key);
    };
    auto answer = co_await turn_exchange(id, req, deadline, what, valid);
    if (!answer) co_return std::move(answer).error();
    response r{std::move(*answer), {}};
    error_code ec;
    r.msg = *stun::message::parse(r.bytes, ec);
    if (r.msg.cls() == stun::message_class::success_response) co_return std::move(r);
    const auto [code, reason] = error_of(r.msg);
    const std::string server = " TURN server " + str(t->server.address) + " answered " + std::to_string(code) + " " + reason;
    if (code == turn::error::unauthorized && authenticated)
      co_return fail(errc::turn_unauthorized, std::string(what) + ":" + server + " (user \"" + t->credentials.username +
                                                  "\": wrong user or password, or expired REST credentials)");
    if (code == turn::error::unauthorized || (code == turn::error::stale_nonce && !nonce_renewed)) {
      auto realm = r.msg.find(turn::attr::realm);
      auto nonce = r.msg.find(turn::attr::nonce);
      if (!nonce || nonce->value.empty() || nonce->value.size() > 763 || (!realm && t->realm.empty()))
        co_return fail(errc::turn_bad_response, std::string(what) + ":" + server + " without REALM and NONCE");
      if (realm) t->realm = std::string(stun::decode_string(*realm));
      t->nonce.assign(nonce->value.begin(), nonce->value.end());
      t->key = turn::make_long_term_key(t->credentials.username, t->realm, t->credentials.password);
      nonce_renewed = nonce_renewed || code == turn::error::stale_nonce;
      continue;
    }
    co_return fail(errc::turn_refused, std::string(what) + ":" + server);
  }
  if (closed) co_return fail(errc::session_closed, std::string(what) + ": session closed");
  co_return fail(errc::turn_refused, std::string(what) + ": TURN server " + str(t->server.address) +
                                         " kept asking for credentials");
}

asio::awaitable<detail::outcome<void>> session_state::allocate_turn(clock::time_point deadline) {
  auto self = shared_from_this();
  std::optional<detail::failure> last;
  for (const auto& server : options.turn_servers) {
    if (closed) break;
    turn = std::make_shared<turn_allocation>();
    turn->server = server;
    turn->credentials = server.credentials_at(std::chrono::system_clock::now());
    const std::string what = "allocating at TURN server " + str(server.address);
    auto r = co_await turn_request(
        turn::method::allocate,
        [](stun::builder& b) {
          turn::add_requested_transport(b);
          b.add_u32(turn::attr::lifetime, requested_lifetime);
        },
        deadline, what);
    error_code ec;
    std::optional<endpoint> relayed;
    std::uint32_t lifetime = requested_lifetime;
    if (r) {
      if (auto a = r->msg.find(turn::attr::xor_relayed_address)) relayed = stun::decode_xor_address(*a, r->msg.id(), ec);
      if (auto a = r->msg.find(turn::attr::lifetime)) lifetime = stun::decode_u32(*a, ec).value_or(requested_lifetime);
      if (!relayed) r = fail(errc::turn_bad_response, what + ": the answer has no XOR-RELAYED-ADDRESS");
    }
    if (!r) {
      last = std::move(r).error();
      emit({.what = session_event::kind::turn_failed, .peer = options.id, .address = server.address, .error = last->code});
      turn.reset();
      continue;
    }
    turn->relayed = unmapped(*relayed);
    turn->expires = time.now() + std::chrono::seconds(lifetime);
    turn->live = true;
    turn->socket = make_turn_socket(weak_from_this());
    // Announced like a host candidate (registration.cpp), by a Register of its own if the
    // registration went without it; the event once the broker knows it.
    announce_late({.what = session_event::kind::turn_allocated, .peer = options.id, .address = turn->relayed},
                  pending_turn_event, turn_announced());
    asio::co_spawn(ex, keep_turn(turn, std::chrono::seconds(std::max<std::uint32_t>(lifetime, 60))), asio::detached);
    co_return detail::outcome<void>{};
  }
  turn.reset();
  if (last) co_return std::move(*last);
  co_return fail(errc::session_closed, "allocating at a TURN server: session closed");
}

// Refresh well before expiry (half the lifetime, at most every 2 minutes), and with it the
// permissions (300 s) and channels (600 s) in use.
asio::awaitable<void> session_state::keep_turn(std::shared_ptr<turn_allocation> t, std::chrono::seconds lifetime) {
  auto self = shared_from_this();
  auto timer = t->refresh_timer = std::make_shared<punch::timer>(ex, time);
  const auto every = std::min<clock::duration>(lifetime / 2, std::chrono::minutes(2));
  while (!closed && t->live && turn == t) {
    timer->expires_after(every);
    co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    if (closed || !t->live || turn != t) co_return;
    const auto deadline = time.now() + options.request_timeout;
    auto r = co_await turn_request(
        turn::method::refresh, [](stun::builder& b) { b.add_u32(turn::attr::lifetime, requested_lifetime); }, deadline,
        "refreshing the TURN allocation");
    if (!r) {
      // Lost: the relayed candidate is gone; connections on it notice the silence and move.
      t->live = false;
      emit({.what = session_event::kind::turn_failed, .peer = options.id, .address = t->server.address, .error = r.error().code});
      // A restarted server answers 437 (it no longer knows the allocation), a dead one not at
      // all: allocate anew, so that a re-introduction has a relayed candidate again.
      if (!closed && turn == t) asio::co_spawn(ex, reallocate_turn(), asio::detached);
      co_return;
    }
    t->expires = time.now() + lifetime;
    const auto permitted = t->permitted;
    t->permitted.clear();
    co_await turn_permit(permitted, deadline);
    for (const auto& [peer, channel] : std::map<endpoint, std::uint16_t>(t->channel_of))
      co_await turn_bind(peer, channel);
  }
}

// After a lost allocation: at once, then after 5 s, 10 s, … at most every 5 minutes, at the
// first server that accepts (allocate_turn), for as long as the session lives. Not after a
// 401 to our credentials: the same ones will not do better (REST credentials are derived
// anew for each try, so an expired one is not the cause).
asio::awaitable<void> session_state::reallocate_turn() {
  auto self = shared_from_this();
  // release_turn() cancels it: a closed session leaves no timer behind.
  auto timer = turn_retry_timer = std::make_shared<punch::timer>(ex, time);
  std::chrono::seconds backoff{5};
  while (!closed) {
    auto r = co_await allocate_turn(time.now() + options.request_timeout);
    if (r || closed || r.error().code == errc::turn_unauthorized) break;
    timer->expires_after(backoff);
    co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    backoff = std::min(backoff * 2, std::chrono::seconds(300));
  }
  if (turn_retry_timer == timer) turn_retry_timer.reset();
}

asio::awaitable<void> session_state::turn_permit(std::vector<asio::ip::address> peers, clock::time_point deadline) {
  auto self = shared_from_this();
  auto t = turn;
  if (!t || !t->live) co_return;
  std::vector<asio::ip::address> wanted;
  for (const auto& p : peers)
    if (p.is_v4() == t->relayed.address().is_v4() && std::find(t->permitted.begin(), t->permitted.end(), p) == t->permitted.end() &&
        std::find(wanted.begin(), wanted.end(), p) == wanted.end() && wanted.size() < 8)
      wanted.push_back(p);
  if (wanted.empty()) co_return;
  auto r = co_await turn_request(
      turn::method::create_permission,
      [&](stun::builder& b) {
        for (const auto& p : wanted) b.add_xor_address(turn::attr::xor_peer_address, endpoint(p, 0));
      },
      deadline, "asking the TURN server to let the peer in");
  if (r) t->permitted.insert(t->permitted.end(), wanted.begin(), wanted.end());
}

// At relay_after without an answered pair (like allocate_relay): the peer's addresses may now
// reach us through the allocation, and its checks to our relayed candidate get through.
asio::awaitable<void> session_state::permit_turn_for(std::shared_ptr<punch_attempt> a, clock::time_point deadline) {
  auto self = shared_from_this();
  // As allocate_relay: at once under relay_only, and a standby under adaptive.
  const auto mode = options.path_policy.mode;
  const auto from = a->relay_first || mode == path_mode::relay_only ? a->started : a->started + options.relay_after;
  if (!co_await relay_due(*a, std::min(from, deadline))) co_return;
  std::vector<endpoint> direct{a->peer_reflexive};
  for (const auto& r : a->remotes)
    if (r.kind != path_kind::relay) direct.push_back(r.address);
  std::vector<asio::ip::address> peers;
  for (const auto& ep : direct) peers.push_back(ep.address());
  co_await turn_permit(peers, deadline);
  // Our own checks to the peer's addresses through the allocation: relayed pairs that need
  // nothing of the peer (relay_only has no other; adaptive keeps one ready).
  if (mode == path_mode::relay_only || mode == path_mode::adaptive)
    for (const auto& ep : direct)
      if (ep.port() != 0 && !a->find(ep, turn_via) && a->remotes.size() < 16) a->remotes.push_back({ep, path_kind::relay, turn_via});
}

asio::awaitable<void> session_state::turn_bind(endpoint peer, std::uint16_t channel) {
  auto self = shared_from_this();
  auto t = turn;
  if (!t || !t->live || std::find(t->binding.begin(), t->binding.end(), peer) != t->binding.end() ||
      std::find(t->unbound.begin(), t->unbound.end(), peer) != t->unbound.end())
    co_return;
  if (channel == 0) {
    if (t->channel_of.contains(peer) || t->next_channel > turn::max_channel) co_return;
    channel = t->next_channel++;
  }
  t->binding.push_back(peer);
  auto r = co_await turn_request(
      turn::method::channel_bind,
      [&](stun::builder& b) {
        turn::add_channel_number(b, channel);
        b.add_xor_address(turn::attr::xor_peer_address, peer);
      },
      time.now() + options.request_timeout, "binding a TURN channel");
  std::erase(t->binding, peer);
  if (!r) {
    // Send indications keep working; asking again for every datagram sent would be a storm.
    if (t->unbound.size() < 64) t->unbound.push_back(peer);
    co_return;
  }
  t->channel_of[peer] = channel;
  t->peer_of[channel] = peer;
  // RFC 8656 §11.2: a ChannelBind installs or refreshes the permission for the peer's address.
  if (std::find(t->permitted.begin(), t->permitted.end(), peer.address()) == t->permitted.end())
    t->permitted.push_back(peer.address());
}

// RFC 8656 §7: a Refresh with LIFETIME 0 deletes the allocation. Sent once, unanswered: the
// session is closing, and the allocation expires by itself if this is lost.
void session_state::release_turn() {
  if (auto retry = std::move(turn_retry_timer)) retry->cancel();
  auto t = std::move(turn);
  if (!t) return;
  if (t->refresh_timer) t->refresh_timer->cancel();
  if (!t->live) return;
  t->live = false;
  t->socket.close();
  auto msg = std::make_shared<std::array<std::byte, stun::max_message_size>>();
  stun::builder b(*msg, stun::message_class::request, turn::method::refresh, detail::random_transaction_id());
  b.add_u32(turn::attr::lifetime, 0);
  add_credentials(b, *t);
  const auto req = b.finish_with_fingerprint();
  if (!req.empty() && socket.is_open())
    socket.async_send_to(asio::buffer(req.data(), req.size()), t->server.address, [msg](error_code, std::size_t) {});
}

}  // namespace punch::detail
