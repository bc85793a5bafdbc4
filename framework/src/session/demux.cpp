// The receive loop: one coroutine reads every datagram of the session's socket and routes
// it (broker answers to their transactions, Introduce and punch checks by method, data
// frames by tag), and holds the early frames of a connection not made yet.
#include "session/session_state.hpp"

#include "session/connection_state.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace punch::detail {

// One coroutine reads every datagram of the socket, in batches, and routes it: broker
// responses and check responses by transaction id, introductions and checks by method, data
// frames by tag.
asio::awaitable<void> session_state::receive_loop() {
  auto self = shared_from_this();  // the loop keeps the state alive until the socket closes
  int consecutive_errors = 0;
  while (!closed) {
    // A batch at a time (one recvmmsg on udp), handled in order of arrival.
    auto [ec, n] = co_await socket.async_receive_batch(rx.slots, asio::as_tuple(asio::use_awaitable));
    const auto next = judge(ec, socket, consecutive_errors);
    if (next == after_receive::stop) break;
    if (next == after_receive::skip) continue;
    for (std::size_t i = 0; i < n && !closed; ++i) {
      const std::span<std::byte> d = rx.datagram(i);
      const endpoint from = unmapped(rx.slots[i].from);
      if (turn && from == turn->server.address && co_await handle_turn(d, from)) continue;
      if (wire::looks_like_frame(d)) {
        handle_frame(d, from);
      } else if (stun::looks_like_stun(d)) {
        co_await handle_stun(d, from);
      }
    }
    if (n == rx.slots.size() && n < receive_batch) rx.grow(receive_batch);  // a burst: room for more
  }
}

session_state::after_receive session_state::judge(const error_code& ec, const datagram_socket& s,
                                                  int& consecutive_errors) const {
  if (closed || ec == asio::error::operation_aborted || !s.is_open()) return after_receive::stop;
  if (ec) return ++consecutive_errors > 64 ? after_receive::stop : after_receive::skip;
  consecutive_errors = 0;
  return after_receive::handle;
}

void session_state::handle_frame(std::span<std::byte> d, const endpoint& from, std::size_t via,
                                 const punch_attempt* owner) {
  auto it = connections.find(wire::frame_tag_of(d));
  if (it == connections.end()) return hold_early_frame(d, from, via, owner);
  auto c = it->second.lock();
  // A prediction socket belongs to one attempt: another connection's frames are not its.
  if (c && (via == 0 || via == turn_via || c->attempt.get() == owner)) c->on_frame(d, from, via);
}

void session_state::hold_early_frame(std::span<const std::byte> d, const endpoint& from, std::size_t via,
                                     const punch_attempt* owner) {
  auto it = unconnected.find(wire::frame_tag_of(d));
  if (it == unconnected.end()) return;  // no attempt of ours: stray or forged
  auto a = it->second.lock();
  if (!a || a->finished || (via != 0 && via != turn_via && a.get() != owner)) return;
  // Unopened yet: the connection's keys exist once our handshake completes. A forged frame
  // takes a slot until then, and is rejected (counted) when the connection opens it.
  if (a->held.size() >= punch_attempt::max_held_frames || a->held_bytes + d.size() > punch_attempt::max_held_bytes) {
    ++stats.frames_held_dropped;
    return;
  }
  a->held.push_back({std::vector<std::byte>(d.begin(), d.end()), from, via});
  a->held_bytes += d.size();
}

asio::awaitable<void> session_state::handle_stun(std::span<const std::byte> d, const endpoint& from, std::size_t via) {
  error_code ec;
  auto m = stun::message::parse(d, ec);
  if (!m) co_return;
  switch (m->cls()) {
    case stun::message_class::success_response:
    case stun::message_class::error_response: {
      if (auto it = via == 0 ? requests.find(m->id()) : requests.end(); it != requests.end()) {
        if (from != it->second->to) co_return;  // only the broker (or relay) asked answers
        it->second->response.assign(d.begin(), d.end());
        it->second->done.fire();
      } else if (m->method() == wire::method::binding &&
                 m->cls() == stun::message_class::success_response) {
        handle_check_response(*m, from, via);
      }
      break;
    }
    case stun::message_class::request:
      if (m->method() == wire::method::introduce && via == 0 && is_broker(from)) {
        co_await handle_introduce(*m, from);
      } else if (m->method() == wire::method::binding) {
        co_await handle_check_request(*m, from, via);
      }
      break;
    case stun::message_class::indication:
      break;
  }
}

}  // namespace punch::detail
