// The connection's data path does not allocate: after a warm-up, a ping-pong of datagrams over
// a punched connection on loopback UDP (send, the session's receive loop, the demultiplexer,
// receive) runs with a counting global operator new that sees no allocation at all; so do
// batches of datagrams (send_batch, received by the loop's recvmmsg).
#include "counting_new.hpp"

#include "punch/broker.hpp"
#include "punch/connection.hpp"
#include "punch/plugins/udp.hpp"
#include "punch/registry.hpp"
#include "punch/session.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <cstring>
#include <exception>

namespace asio = boost::asio;
using namespace punch;
using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

// Sends `rounds` datagrams from a to b and back; returns how many came back intact.
asio::awaitable<int> ping_pong(connection& a, connection& b, int rounds) {
  std::array<std::byte, 1200> out{}, in{};
  int intact = 0;
  for (int i = 0; i < rounds; ++i) {
    std::memcpy(out.data(), &i, sizeof i);
    co_await a.send(asio::buffer(out, 1000));
    const std::size_t n = co_await b.receive(asio::buffer(in));
    co_await b.send(asio::buffer(in, n));
    const std::size_t m = co_await a.receive(asio::buffer(in));
    if (m == 1000 && std::memcmp(in.data(), out.data(), m) == 0) ++intact;
  }
  co_return intact;
}

// Sends `rounds` batches of 16 datagrams from a to b; returns how many arrived intact.
asio::awaitable<int> batches(connection& a, connection& b, int rounds) {
  std::array<std::array<std::byte, 1000>, 16> out{};
  std::array<asio::const_buffer, 16> batch;
  std::array<std::byte, 1200> in{};
  int intact = 0;
  for (int i = 0; i < rounds; ++i) {
    for (std::size_t k = 0; k < out.size(); ++k) {
      const int tag = i * 16 + static_cast<int>(k);
      std::memcpy(out[k].data(), &tag, sizeof tag);
      batch[k] = asio::buffer(out[k]);
    }
    co_await a.send_batch(batch);
    for (std::size_t k = 0; k < out.size(); ++k) {
      const std::size_t n = co_await b.receive(asio::buffer(in));
      if (n == 1000 && std::memcmp(in.data(), out[k].data(), n) == 0) ++intact;
    }
  }
  co_return intact;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_connection_sends_and_receives_without_allocating) {
  asio::io_context ctx;
  error_code ec;
  auto udp = udp::make_transport(ctx.get_executor(), {}, ec);
  BOOST_TEST_REQUIRE(!ec);
  const auto loopback = asio::ip::make_address("127.0.0.1");
  auto broker_socket = udp->open(endpoint{loopback, 0});
  auto reg = make_memory_registry(16);
  broker b(broker_socket, *reg);
  asio::co_spawn(ctx, b.run(), asio::detached);

  session_options o;
  o.broker = b.local_endpoint();
  o.local = endpoint{loopback, 0};
  o.connection_keepalive = 60s;  // no keepalive frames during the burst
  o.connection_idle_timeout = 120s;
  o.keepalive = 60s;
  auto oa = o, ob = o;
  oa.id = "alice";
  ob.id = "bob";
  session alice(*udp, oa), bob(*udp, ob);

  int warm = -1, burst = -1, warm_batches = -1, batched = -1;
  std::size_t counted = 0, counted_batches = 0;
  std::exception_ptr failure;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        co_await (alice.register_self() && bob.register_self());
        auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
        warm = co_await ping_pong(ca, cb, 500);
        test::start_counting();
        burst = co_await ping_pong(ca, cb, 2000);
        counted = test::stop_counting();
        warm_batches = co_await batches(ca, cb, 50);
        test::start_counting();
        batched = co_await batches(ca, cb, 250);
        counted_batches = test::stop_counting();
        co_await (ca.close() && cb.close());
      },
      [&](std::exception_ptr e) {
        failure = e;
        alice.close();
        bob.close();
        broker_socket.close();
      });
  ctx.run_for(30s);

  if (failure) std::rethrow_exception(failure);
  BOOST_TEST(warm == 500);
  BOOST_TEST(burst == 2000);
  BOOST_TEST(counted == 0u, counted << " allocations during 4000 datagrams on a connection");
  BOOST_TEST(warm_batches == 50 * 16);
  BOOST_TEST(batched == 250 * 16);
  BOOST_TEST(counted_batches == 0u, counted_batches << " allocations during 250 batches of 16 datagrams");
}
