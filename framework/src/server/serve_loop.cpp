#include "server/serve_loop.hpp"

#include "punch/error.hpp"
#include "punch/wire/stun.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sstream>

namespace punch::detail {
namespace {

// Receive errors that concern one earlier datagram, not the socket: ICMP feedback for a
// send, or a datagram larger than the buffer.
bool transient(const error_code& ec) {
  return ec == asio::error::connection_refused || ec == asio::error::connection_reset ||
         ec == asio::error::message_size || ec == asio::error::network_unreachable ||
         ec == asio::error::host_unreachable;
}

// The loop's coroutine was cancelled (terminal: its state's filter lets nothing else in).
bool stopped(const asio::cancellation_state& state) { return state.cancelled() != asio::cancellation_type::none; }

}  // namespace

serve_loop::serve_loop(datagram_socket& socket, datagram_service& service, serve_settings settings)
    : socket_(socket), service_(service), settings_(settings) {
  for (auto& b : loops_) {
    b.in.resize(batch * settings_.receive_size);
    b.out.resize(batch * stun::max_message_size);
    for (std::size_t i = 0; i < batch; ++i)
      b.received[i].buffer = asio::buffer(b.in.data() + i * settings_.receive_size, settings_.receive_size);
  }
}

asio::awaitable<void> serve_loop::run() {
  using namespace asio::experimental::awaitable_operators;
  std::ostringstream local;
  local << socket_.local_endpoint();
  local_ = local.str();
  co_await (receive_loops_from(0, receive_loops) || expiry_loop());
}

asio::awaitable<void> serve_loop::receive_loop(loop_buffers& b) {
  // Cancellation is checked explicitly, so a cancelled loop ends without throwing. It is
  // checked after every operation, whatever that operation's outcome: a cancellation that
  // comes while an operation's completion is queued reaches no operation (that one is done,
  // the next one not yet started) and is remembered only by this state, so a loop that went
  // on to its next receive would wait for a datagram that may never come (issue 16).
  co_await asio::this_coro::throw_if_cancelled(false);
  const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
  for (;;) {
    auto [ec, n] = co_await socket_.async_receive_batch(b.received, asio::as_tuple(asio::use_awaitable));
    if (stopped(state)) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted || ec == errc::socket_closed || !socket_.is_open()) co_return;
      if (transient(ec)) continue;
      std::ostringstream what;
      what << settings_.name << " on " << local_ << ": receive failed";
      throw system_error(ec, what.str());
    }
    // One batch arrived at one time; its answers go out together.
    service_.received_batch(n);
    const auto t = service_.now();
    // One steady_clock read per datagram (vDSO, no system call): each datagram's time is
    // from the previous read to the read after it.
    auto handled = clock::now();
    std::size_t sends = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const received_datagram& d = b.received[i];
      // A full buffer may hold a truncated datagram: forwarding it would change it.
      if (settings_.drop_full_datagrams && d.size >= settings_.receive_size) {
        service_.dropped_full_datagram();
        continue;
      }
      const std::span<const std::byte> in(b.in.data() + i * settings_.receive_size, d.size);
      const std::span<std::byte> out(b.out.data() + sends * stun::max_message_size, stun::max_message_size);
      const reply r = service_.handle(in, d.from, t, out);
      if (!r.bytes.empty()) b.sends[sends++] = {asio::buffer(r.bytes.data(), r.bytes.size()), r.to};
      const auto now = clock::now();
      service_.handling_times().record(now - handled);
      handled = now;
    }
    if (sends == 0) continue;
    // A datagram the network refuses is that one client's loss (unreachable, filtered); the
    // batch fails only when the socket is closed.
    auto [sec, sent] = co_await socket_.async_send_batch(std::span<const outgoing_datagram>(b.sends).first(sends),
                                                         asio::as_tuple(asio::use_awaitable));
    if (stopped(state) || sec == asio::error::operation_aborted || !socket_.is_open()) co_return;
  }
}

asio::awaitable<void> serve_loop::receive_loops_from(std::size_t first, std::size_t count) {
  using namespace asio::experimental::awaitable_operators;
  if (count == 1) return receive_loop(loops_[first]);
  // `&&` ends when both end, or cancels the other when one throws.
  return receive_loops_from(first, count / 2) && receive_loops_from(first + count / 2, count - count / 2);
}

asio::awaitable<void> serve_loop::expiry_loop() {
  co_await asio::this_coro::throw_if_cancelled(false);
  const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
  punch::timer timer(co_await asio::this_coro::executor, service_.time());
  for (;;) {
    timer.expires_after(settings_.expiry_interval);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec || stopped(state)) co_return;
    service_.expire(service_.now());
  }
}

}  // namespace punch::detail
