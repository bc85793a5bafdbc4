// Introductions: looking a peer up, asking the broker to introduce us to a peer (Connect,
// registering again once if the broker forgot us), and answering the broker's Introduce: acknowledge it, then
// punch back and queue the connection for accept() (or resume a live connection).
#include "session/session_state.hpp"

#include "session/connection_state.hpp"
#include "session/peer_answer.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstring>

namespace punch::detail {

asio::awaitable<detail::outcome<session_state::response>> session_state::introduce_me(const std::string& target,
                                                                     const std::array<std::byte, wire::resume_size>* resume,
                                                                     clock::time_point deadline, const std::string& what) {
  const auto build = [&](stun::builder& b) {
    b.add_string(wire::attr::peer_id, options.id);
    b.add_string(wire::attr::target_id, target);
    if (resume) b.add(wire::attr::resume, *resume);
  };
  auto r = co_await request(wire::method::connect, build, std::min(deadline, time.now() + options.request_timeout), what);
  if (r || r.error().code != errc::not_registered) co_return std::move(r);
  // The broker forgot us (it restarted, or our registration expired before the keepalive
  // refreshed it): register again once, then ask again.
  auto again = co_await do_register(std::min(deadline, time.now() + options.request_timeout));
  if (!again) co_return std::move(again).error();
  registration = *again;
  emit({.what = session_event::kind::refreshed, .peer = options.id, .address = registration.reflexive});
  co_return co_await request(wire::method::connect, build, std::min(deadline, time.now() + options.request_timeout), what);
}

asio::awaitable<detail::outcome<peer_info>> session_state::look_up(const std::string& target, clock::time_point deadline,
                                                                   const std::string& what) {
  auto r = co_await request(
      wire::method::lookup, [&](stun::builder& b) { b.add_string(wire::attr::target_id, target); }, deadline, what);
  if (!r) co_return std::move(r).error();
  co_return read_peer(r->msg, target);
}

asio::awaitable<void> session_state::handle_introduce(const stun::message& m, const endpoint& from) {
  // Acknowledge first (the broker retransmits until we do), then punch.
  std::array<std::byte, 64> buf;
  stun::builder b(buf, stun::message_class::success_response, wire::method::introduce, m.id());
  auto ack = b.finish_with_fingerprint();
  co_await socket.async_send_to(asio::buffer(ack.data(), ack.size()), from,
                                asio::as_tuple(asio::use_awaitable));
  auto tok = m.find(wire::attr::token);
  if (!tok || tok->value.size() != wire::token_size) co_return;
  wire::token token;
  std::memcpy(token.data(), tok->value.data(), token.size());
  if (punches.contains(wire::derive_keys(token).punch_id)) co_return;  // a retransmitted introduction
  peer_info remote = detail::read_peer(m, "");
  // Without the peer's key there is no handshake to authenticate: not a punch to join.
  if (!wire::valid_peer_id(remote.id) || !detail::has_key(m)) co_return;
  if (auto r = m.find(wire::attr::resume)) {
    // A re-introduction: the peer moved. Punch for that live connection, or not at all
    // (it is gone here: its connection times out on that side).
    auto c = r->value.size() == wire::resume_size ? find_resumable(r->value, remote) : nullptr;
    if (!c) co_return;
    emit({.what = session_event::kind::introduced, .peer = remote.id, .address = remote.reflexive, .nat = remote.nat});
    auto a = make_attempt(token, remote.id, false, remote);
    unconnected.erase(a->keys.tag);
    a->keys.relay_id = c->relay_id;
    asio::co_spawn(ex, accept_resume(a, c), asio::detached);
    co_return;
  }
  emit({.what = session_event::kind::introduced, .peer = remote.id, .address = remote.reflexive, .nat = remote.nat});
  auto a = make_attempt(token, remote.id, false, remote);
  asio::co_spawn(ex, accept_introduction(a), asio::detached);
}

// The controlled side: punch back after an introduction and queue the connection for accept().
asio::awaitable<void> session_state::accept_introduction(std::shared_ptr<punch_attempt> a) {
  auto self = shared_from_this();
  auto c = co_await run_punch(a, time.now() + options.punch_timeout);
  // Failed: punch_failed was emitted; accept() keeps waiting for the next introduction.
  if (!c) co_return;
  if (backlog.size() >= options.accept_backlog) {
    (*c)->send_farewell();
    (*c)->mark_closed(make_error_code(errc::closed_locally), "accept backlog full", false);
    co_return;
  }
  backlog.push_back(std::move(*c));
  accept_ready.fire();
}

}  // namespace punch::detail
