// Tests of the udp transport's batched sockets (batch=N): a burst served from one recvmmsg in
// order with every sender, sends that go out whether or not anyone receives, truncation,
// close and cancellation; and SO_REUSEPORT sharing one port.
#include "run_coroutine.hpp"

#include "punch/plugins/udp.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <chrono>
#include <string>
#include <string_view>

BOOST_AUTO_TEST_SUITE(udp_batch_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using punch::endpoint;
using punch::error_code;

const endpoint v4_any_port{asio::ip::address_v4::loopback(), 0};

struct batch_fixture {
  asio::io_context ctx;
  std::unique_ptr<punch::transport> udp = make({{"batch", "8"}});
  std::unique_ptr<punch::transport> plain = make({});

  std::unique_ptr<punch::transport> make(const punch::transport_options& options) {
    error_code ec;
    auto made = punch::udp::make_transport(ctx.get_executor(), options, ec);
    BOOST_REQUIRE(!ec);
    return made;
  }

  void run(asio::awaitable<void> body) { test::run_to_completion(ctx, std::move(body)); }
};

std::string text(const std::array<char, 64>& buf, std::size_t n) { return {buf.data(), n}; }

}  // namespace

BOOST_FIXTURE_TEST_SUITE(udp_batch, batch_fixture)

BOOST_AUTO_TEST_CASE(a_burst_larger_than_the_batch_arrives_in_order_with_each_sender) {
  auto server = udp->open(v4_any_port);
  auto alice = plain->open(v4_any_port);
  auto bob = plain->open(v4_any_port);
  run([&]() -> asio::awaitable<void> {
    // 20 datagrams queued before the first receive: three recvmmsg batches of up to 8.
    for (int i = 0; i < 10; ++i) {
      const std::string a = "a" + std::to_string(i), b = "b" + std::to_string(i);
      co_await alice.async_send_to(asio::buffer(a), server.local_endpoint(), asio::use_awaitable);
      co_await bob.async_send_to(asio::buffer(b), server.local_endpoint(), asio::use_awaitable);
    }
    std::array<char, 64> buf{};
    endpoint from;
    for (int i = 0; i < 10; ++i) {
      std::size_t n = co_await server.async_receive_from(asio::buffer(buf), from, asio::use_awaitable);
      BOOST_TEST(text(buf, n) == "a" + std::to_string(i));
      BOOST_TEST(from == alice.local_endpoint());
      n = co_await server.async_receive_from(asio::buffer(buf), from, asio::use_awaitable);
      BOOST_TEST(text(buf, n) == "b" + std::to_string(i));
      BOOST_TEST(from == bob.local_endpoint());
    }
  }());
}

BOOST_AUTO_TEST_CASE(answers_sent_while_draining_a_batch_all_arrive) {
  auto server = udp->open(v4_any_port);
  auto client = plain->open(v4_any_port);
  run([&]() -> asio::awaitable<void> {
    for (int i = 0; i < 12; ++i) {
      const std::string q = "q" + std::to_string(i);
      co_await client.async_send_to(asio::buffer(q), server.local_endpoint(), asio::use_awaitable);
    }
    // The echo loop of a server: each answer is queued and flushed with the batch.
    std::array<char, 64> buf{};
    endpoint from;
    for (int i = 0; i < 12; ++i) {
      std::size_t n = co_await server.async_receive_from(asio::buffer(buf), from, asio::use_awaitable);
      co_await server.async_send_to(asio::buffer(buf.data(), n), from, asio::use_awaitable);
    }
    asio::steady_timer timer(ctx, 2s);
    for (int i = 0; i < 12; ++i) {
      auto r = co_await (client.async_receive_from(asio::buffer(buf), from, asio::use_awaitable) ||
                         timer.async_wait(asio::use_awaitable));
      BOOST_REQUIRE_MESSAGE(r.index() == 0u, "answer " << i << " never came");
      BOOST_TEST(text(buf, std::get<0>(r)) == "q" + std::to_string(i));
    }
  }());
}

BOOST_AUTO_TEST_CASE(a_send_from_a_socket_nobody_receives_on_goes_out) {
  auto sender = udp->open(v4_any_port);
  auto receiver = plain->open(v4_any_port);
  run([&]() -> asio::awaitable<void> {
    co_await sender.async_send_to(asio::buffer("lonely", 6), receiver.local_endpoint(), asio::use_awaitable);
    std::array<char, 64> buf{};
    endpoint from;
    asio::steady_timer timer(ctx, 2s);
    auto r = co_await (receiver.async_receive_from(asio::buffer(buf), from, asio::use_awaitable) ||
                       timer.async_wait(asio::use_awaitable));
    BOOST_REQUIRE_MESSAGE(r.index() == 0u, "the queued send was never flushed");
    BOOST_TEST(text(buf, std::get<0>(r)) == "lonely");
  }());
}

BOOST_AUTO_TEST_CASE(a_send_while_a_receive_waits_goes_out) {
  auto server = udp->open(v4_any_port);
  auto peer = plain->open(v4_any_port);
  run([&]() -> asio::awaitable<void> {
    std::array<char, 64> buf{}, peer_buf{};
    endpoint from, peer_from;
    asio::steady_timer timer(ctx, 2s);
    // The server waits on receive while it sends (the broker's Introduce from a timer).
    auto r = co_await (server.async_receive_from(asio::buffer(buf), from, asio::use_awaitable) ||
                       [&]() -> asio::awaitable<std::size_t> {
                         co_await server.async_send_to(asio::buffer("intro", 5), peer.local_endpoint(),
                                                       asio::use_awaitable);
                         co_return co_await peer.async_receive_from(asio::buffer(peer_buf), peer_from,
                                                                    asio::use_awaitable);
                       }() ||
                       timer.async_wait(asio::use_awaitable));
    BOOST_REQUIRE_MESSAGE(r.index() == 1u, "the send did not go out while the receive waited");
    BOOST_TEST(text(peer_buf, std::get<1>(r)) == "intro");
  }());
}

BOOST_AUTO_TEST_CASE(a_datagram_larger_than_the_buffer_is_truncated_to_the_buffer) {
  auto server = udp->open(v4_any_port);
  auto client = plain->open(v4_any_port);
  run([&]() -> asio::awaitable<void> {
    co_await client.async_send_to(asio::buffer("0123456789", 10), server.local_endpoint(), asio::use_awaitable);
    std::array<char, 4> small{};
    endpoint from;
    const std::size_t n = co_await server.async_receive_from(asio::buffer(small), from, asio::use_awaitable);
    BOOST_TEST(n == 4u);
    BOOST_TEST(std::string(small.data(), 4) == "0123");
  }());
}

BOOST_AUTO_TEST_CASE(closing_aborts_a_waiting_receive_and_later_operations_say_socket_closed) {
  auto socket = udp->open(v4_any_port);
  std::array<char, 64> buf{};
  endpoint from;
  bool completed = false;
  error_code result;
  socket.async_receive_from(asio::buffer(buf), from, [&](error_code ec, std::size_t) {
    completed = true;
    result = ec;
  });
  socket.close();
  BOOST_TEST(!completed, "the handler ran inside close()");
  ctx.run_for(2s);
  BOOST_TEST(completed);
  BOOST_TEST(result == make_error_code(asio::error::operation_aborted));
  ctx.restart();
  error_code later;
  socket.async_send_to(asio::buffer("x", 1), v4_any_port, [&](error_code ec, std::size_t) { later = ec; });
  ctx.run_for(2s);
  BOOST_TEST(later == make_error_code(punch::errc::socket_closed));
}

BOOST_AUTO_TEST_CASE(a_cancellation_slot_aborts_a_waiting_receive_and_the_socket_still_works) {
  auto socket = udp->open(v4_any_port);
  auto client = plain->open(v4_any_port);
  asio::cancellation_signal signal;
  std::array<char, 64> buf{};
  endpoint from;
  error_code result;
  socket.async_receive_from(asio::buffer(buf), from,
                            asio::bind_cancellation_slot(signal.slot(), [&](error_code ec, std::size_t) { result = ec; }));
  ctx.poll();
  signal.emit(asio::cancellation_type::terminal);
  ctx.run_for(2s);
  BOOST_TEST(result == make_error_code(asio::error::operation_aborted));
  ctx.restart();
  run([&]() -> asio::awaitable<void> {
    co_await client.async_send_to(asio::buffer("after", 5), socket.local_endpoint(), asio::use_awaitable);
    const std::size_t n = co_await socket.async_receive_from(asio::buffer(buf), from, asio::use_awaitable);
    BOOST_TEST(text(buf, n) == "after");
  }());
}

BOOST_AUTO_TEST_CASE(reuse_port_lets_two_sockets_share_one_port) {
  auto shared = make({{"reuse-port", "true"}, {"batch", "4"}});
  auto first = shared->open(v4_any_port);
  auto second = shared->open(first.local_endpoint());
  BOOST_TEST(second.local_endpoint() == first.local_endpoint());
  error_code ec;
  plain->open(first.local_endpoint(), ec);
  BOOST_TEST(ec == make_error_code(punch::errc::address_in_use));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()  // udp_batch_test
