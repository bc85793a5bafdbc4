// Test support for the broker tests over real UDP: a broker serving on 127.0.0.1 with a clock
// the test can move on, and raw client sockets that send hand-built requests (and register
// with the NONCE exchange and a signature). Requests and answers: broker_requests.hpp.
#pragma once

#include "broker_requests.hpp"
#include "run_coroutine.hpp"

#include "punch/broker.hpp"
#include "punch/plugins/udp.hpp"
#include "punch/registry.hpp"
#include "punch/wire/protocol.hpp"
#include "punch/wire/stun.hpp"
#include "function_clock.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <sodium.h>

#include <chrono>
#include <cstring>
#include <exception>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace broker_test {

using namespace std::chrono_literals;
namespace asio = boost::asio;

// A raw client socket, on 127.0.0.1 unless told otherwise.
class client {
public:
  explicit client(punch::transport& udp, const char* address = "127.0.0.1")
      : socket_(udp.open(endpoint{asio::ip::make_address(address), 0})) {}

  endpoint local() const { return socket_.local_endpoint(); }
  punch::datagram_socket& socket() { return socket_; }

  asio::awaitable<void> send(const bytes& data, const endpoint& to) {
    co_await socket_.async_send_to(asio::buffer(data), to, asio::use_awaitable);
  }

  // The next datagram, or nullopt after `timeout`; `from` receives its source.
  asio::awaitable<std::optional<bytes>> receive(std::chrono::milliseconds timeout = 2s,
                                                endpoint* from = nullptr) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
    endpoint source;
    auto r = co_await (socket_.async_receive_from(asio::buffer(buf_), source, asio::use_awaitable) ||
                       timer.async_wait(asio::use_awaitable));
    if (r.index() != 0) co_return std::nullopt;
    if (from) *from = source;
    const auto n = std::get<0>(r);
    co_return bytes(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(n));
  }

  // Sends `request` and returns the parsed answer (the test fails if none comes in time).
  asio::awaitable<std::optional<answer>> exchange(const bytes& request, const endpoint& to) {
    co_await send(request, to);
    auto data = co_await receive();
    BOOST_TEST_REQUIRE(data.has_value(), "no answer from the broker within 2 s");
    BOOST_TEST(data->size() <= std::max(request.size(), response_floor),
               "answer of " << data->size() << " bytes to a request of " << request.size());
    co_return parse(std::move(*data));
  }

  // Registers as a peer does: with the NONCE of the broker's last answer to this socket, or
  // first unsigned (answered 401 with a NONCE), then signed by `who`; a 401 or 438 with a
  // fresh NONCE is tried once more. Keeps the success answer's REFRESH-CREDENTIAL. Returns
  // the last answer (the test fails if none comes).
  // (By value: a coroutine must not keep references to its caller's temporaries.)
  asio::awaitable<std::optional<answer>> register_as(punch::identity who, register_fields f, endpoint to) {
    std::optional<answer> a;
    for (int attempt = 0; attempt < 3; ++attempt) {
      a = co_await exchange(register_request(who, f, nonce, random_id()), to);
      if (!a || !keep_and_retry(*a, nonce, credential)) break;
    }
    co_return a;
  }

  // The NONCE the broker last gave this socket, and the REFRESH-CREDENTIAL of its last
  // successful signed Register (register_as).
  bytes nonce;
  bytes credential;

private:
  punch::datagram_socket socket_;
  std::array<std::byte, 2048> buf_{};
};

// A broker on 127.0.0.1 over the udp transport, with the events it emitted. Its clock is the
// steady clock plus `skew`, which a test moves on instead of waiting (NONCE age, expiry,
// token buckets); freeze() stops it, so that only `skew` moves it.
struct broker_fixture {
  explicit broker_fixture(punch::broker_options options = {}, std::size_t capacity = 100,
                          endpoint listen = endpoint{asio::ip::make_address("127.0.0.1"), 0})
      : udp(make_udp(ctx)),
        socket(udp->open(listen)),
        registry(punch::make_memory_registry(capacity)),
        broker(socket, *registry, with_clock(std::move(options))),
        address(socket.local_endpoint()),
        event_timer(ctx) {
    broker.on_event([this](const punch::broker_event& e) {
      events.push_back(e);
      event_timer.cancel();
    });
  }

  punch::broker_options with_clock(punch::broker_options o) {
    if (!o.clock) o.clock = &clock;
    return o;
  }
  // The broker's time.
  std::chrono::steady_clock::time_point now() const {
    return (frozen ? *frozen : std::chrono::steady_clock::now()) + skew;
  }
  void freeze() { frozen = std::chrono::steady_clock::now(); }

  static std::unique_ptr<punch::transport> make_udp(asio::io_context& ctx) {
    punch::error_code ec;
    auto t = punch::udp::make_transport(ctx.get_executor(), {}, ec);
    BOOST_TEST_REQUIRE(!ec, ec.message());
    return t;
  }

  std::size_t count(punch::broker_event::kind k) const {
    return static_cast<std::size_t>(
        std::count_if(events.begin(), events.end(), [k](const auto& e) { return e.what == k; }));
  }

  // Waits until an event of kind `k` has been emitted, at most `timeout`.
  asio::awaitable<bool> wait_for(punch::broker_event::kind k, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (count(k) == 0 && std::chrono::steady_clock::now() < deadline) {
      event_timer.expires_at(deadline);
      co_await event_timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_return count(k) > 0;
  }

  // Serves while `test` runs, then closes the broker's socket; the whole run is bounded.
  void run(std::function<asio::awaitable<void>()> body) {
    const bool served = test::serve_while(ctx, broker.run(), body(), [this] { socket.close(); }, 30s);
    BOOST_TEST(served, "broker.run() did not end after its socket was closed");
  }

  // Declared first: the broker's clock reads them.
  std::chrono::nanoseconds skew{0};
  std::optional<std::chrono::steady_clock::time_point> frozen;
  test::function_clock clock{[this] { return now(); }};
  asio::io_context ctx;
  std::unique_ptr<punch::transport> udp;
  punch::datagram_socket socket;
  std::unique_ptr<punch::registry> registry;
  punch::broker broker;
  endpoint address;
  std::vector<punch::broker_event> events;
  asio::steady_timer event_timer;
};

}  // namespace broker_test
