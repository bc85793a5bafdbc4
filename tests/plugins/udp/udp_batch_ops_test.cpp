// Tests of the batch operations (async_receive_batch, async_send_batch) over real loopback
// sockets, recvmmsg straight into the caller's slots and sendmmsg straight from them: on the
// udp transport's queued socket (batch=N) and its direct one (batch=1, the default); and the
// interface's defaults (one datagram per operation), on a socket_impl that offers only the
// single operations. Order, senders, sizes, truncation, the slot and
// batch limits, datagrams queued by a single receive, waiting, close and cancellation.
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
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <chrono>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(udp_batch_ops_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

// Named, not anonymous: the test cases are templates (BOOST_DATA_TEST_CASE) whose coroutine
// frames hold these types.
namespace batch_ops {

namespace asio = boost::asio;
namespace bdata = boost::unit_test::data;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using punch::endpoint;
using punch::error_code;
using punch::outgoing_datagram;
using punch::received_datagram;

const endpoint v4_any_port{asio::ip::address_v4::loopback(), 0};
constexpr std::size_t batch_size = 8;  // the batched transport's batch=N

// Slots with their own 64-byte buffers.
struct slots {
  explicit slots(std::size_t n, std::size_t size = 64) : bytes(n, std::vector<char>(size)), at(n) {
    for (std::size_t i = 0; i < n; ++i) at[i].buffer = asio::buffer(bytes[i]);
  }
  std::string text(std::size_t i) const { return {bytes[i].data(), at[i].size}; }
  std::vector<std::vector<char>> bytes;
  std::vector<received_datagram> at;
};

struct fixture {
  asio::io_context ctx;
  std::unique_ptr<punch::transport> batched = make({{"batch", std::to_string(batch_size)}});
  std::unique_ptr<punch::transport> plain = make({});

  std::unique_ptr<punch::transport> make(const punch::transport_options& options) {
    error_code ec;
    auto made = punch::udp::make_transport(ctx.get_executor(), options, ec);
    BOOST_REQUIRE(!ec);
    return made;
  }
  // "queued": batch=N; "direct": the default; "defaults": socket_impl's own batch operations.
  punch::datagram_socket under_test(const std::string& kind) {
    if (kind == "queued") return batched->open(v4_any_port);
    if (kind == "direct") return plain->open(v4_any_port);
    return punch::datagram_socket{std::make_unique<single_operations>(plain->open(v4_any_port))};
  }

  // A socket_impl with the single operations only (a plugin that does not batch).
  struct single_operations final : punch::socket_impl {
    explicit single_operations(punch::datagram_socket s) : inner(std::move(s)) {}
    asio::any_io_executor get_executor() override { return inner.get_executor(); }
    endpoint local_endpoint() const override { return inner.local_endpoint(); }
    bool is_open() const override { return inner.is_open(); }
    void close() override { inner.close(); }
    void async_send_to(asio::const_buffer data, const endpoint& to, punch::datagram_handler h) override {
      inner.impl()->async_send_to(data, to, std::move(h));
    }
    void async_receive_from(asio::mutable_buffer data, endpoint& from, punch::datagram_handler h) override {
      inner.impl()->async_receive_from(data, from, std::move(h));
    }
    punch::datagram_socket inner;
  };

  void run(asio::awaitable<void> body) { test::run_to_completion(ctx, std::move(body)); }

  // Sends "<prefix><i>" for i in [0, n) from `from` to `to`.
  static asio::awaitable<void> send_numbered(punch::datagram_socket& from, const endpoint& to, std::string prefix, int n) {
    for (int i = 0; i < n; ++i) {
      const std::string d = prefix + std::to_string(i);
      co_await from.async_send_to(asio::buffer(d), to, asio::use_awaitable);
    }
  }
};

// Every kind of socket (fixture::under_test).
const auto both = bdata::make({std::string("queued"), std::string("direct"), std::string("defaults")});

}  // namespace batch_ops

using namespace batch_ops;

BOOST_FIXTURE_TEST_SUITE(udp_batch_operations, fixture)

BOOST_DATA_TEST_CASE(queued_datagrams_arrive_in_one_batch_in_order_with_each_sender, both, kind) {
  auto server = under_test(kind);
  auto alice = plain->open(v4_any_port);
  auto bob = plain->open(v4_any_port);
  run([&]() -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) {
      co_await send_numbered(alice, server.local_endpoint(), "a" + std::to_string(i) + "-", 1);
      co_await send_numbered(bob, server.local_endpoint(), "b" + std::to_string(i) + "-", 1);
    }
    slots s(16);
    const std::size_t n = co_await server.async_receive_batch(s.at, asio::use_awaitable);
    // recvmmsg takes all six at once; the default takes one per operation.
    BOOST_TEST(n == (kind == "defaults" ? 1u : 6u));
    for (std::size_t i = 0; i < n; ++i) {
      const bool from_alice = i % 2 == 0;
      BOOST_TEST(s.text(i) == std::string(from_alice ? "a" : "b") + std::to_string(i / 2) + "-0");
      BOOST_TEST(s.at[i].from == (from_alice ? alice : bob).local_endpoint());
    }
  }());
}

BOOST_AUTO_TEST_CASE(a_batch_receive_takes_no_more_than_the_batch_size_nor_its_slots) {
  auto server = batched->open(v4_any_port);
  auto client = plain->open(v4_any_port);
  run([&]() -> asio::awaitable<void> {
    co_await send_numbered(client, server.local_endpoint(), "d", 12);
    slots many(16), few(3);
    std::size_t n = co_await server.async_receive_batch(many.at, asio::use_awaitable);
    BOOST_TEST(n == batch_size);
    for (std::size_t i = 0; i < n; ++i) BOOST_TEST(many.text(i) == "d" + std::to_string(i));
    n = co_await server.async_receive_batch(few.at, asio::use_awaitable);
    BOOST_TEST(n == 3u);
    for (std::size_t i = 0; i < n; ++i) BOOST_TEST(few.text(i) == "d" + std::to_string(batch_size + i));
    n = co_await server.async_receive_batch(many.at, asio::use_awaitable);
    BOOST_TEST(n == 1u);
    BOOST_TEST(many.text(0) == "d11");
  }());
}

BOOST_AUTO_TEST_CASE(a_batch_receive_after_a_single_receive_gets_what_that_one_queued_in_order) {
  auto server = batched->open(v4_any_port);
  auto client = plain->open(v4_any_port);
  run([&]() -> asio::awaitable<void> {
    co_await send_numbered(client, server.local_endpoint(), "q", 5);
    std::array<char, 64> one{};
    endpoint from;
    // The single receive's recvmmsg queues all five and hands out the first.
    const std::size_t first = co_await server.async_receive_from(asio::buffer(one), from, asio::use_awaitable);
    BOOST_TEST(std::string(one.data(), first) == "q0");
    slots s(16);
    const std::size_t n = co_await server.async_receive_batch(s.at, asio::use_awaitable);
    BOOST_TEST(n == 4u);
    for (std::size_t i = 0; i < n; ++i) {
      BOOST_TEST(s.text(i) == "q" + std::to_string(i + 1));
      BOOST_TEST(s.at[i].from == client.local_endpoint());
    }
  }());
}

BOOST_DATA_TEST_CASE(a_waiting_batch_receive_completes_when_a_datagram_arrives, both, kind) {
  auto server = under_test(kind);
  auto client = plain->open(v4_any_port);
  run([&]() -> asio::awaitable<void> {
    slots s(4);
    asio::steady_timer timer(ctx, 2s);
    // The receive starts first and waits; the send comes after it.
    auto r = co_await (server.async_receive_batch(s.at, asio::use_awaitable) ||
                       [&]() -> asio::awaitable<void> {
                         co_await send_numbered(client, server.local_endpoint(), "late", 1);
                         timer.expires_after(2s);
                         co_await timer.async_wait(asio::use_awaitable);
                       }());
    BOOST_REQUIRE_MESSAGE(r.index() == 0u, "the waiting batch receive never completed");
    BOOST_TEST(std::get<0>(r) == 1u);
    BOOST_TEST(s.text(0) == "late0");
    BOOST_TEST(s.at[0].from == client.local_endpoint());
  }());
}

BOOST_DATA_TEST_CASE(a_datagram_larger_than_its_slot_is_truncated_to_the_slot, both, kind) {
  auto server = under_test(kind);
  auto client = plain->open(v4_any_port);
  run([&]() -> asio::awaitable<void> {
    co_await client.async_send_to(asio::buffer("0123456789", 10), server.local_endpoint(), asio::use_awaitable);
    co_await client.async_send_to(asio::buffer("ab", 2), server.local_endpoint(), asio::use_awaitable);
    slots s(2, 4);
    std::size_t n = co_await server.async_receive_batch(s.at, asio::use_awaitable);
    BOOST_TEST(s.at[0].size == 4u);
    BOOST_TEST(s.text(0) == "0123");
    if (n == 1) n += co_await server.async_receive_batch(std::span(s.at).subspan(1), asio::use_awaitable);
    BOOST_TEST(n == 2u);
    BOOST_TEST(s.text(1) == "ab");
  }());
}

BOOST_DATA_TEST_CASE(a_batch_send_larger_than_the_batch_arrives_in_order_at_each_destination, both, kind) {
  auto sender = under_test(kind);
  auto alice = plain->open(v4_any_port);
  auto bob = plain->open(v4_any_port);
  run([&]() -> asio::awaitable<void> {
    // 20 datagrams (two and a half sendmmsg batches of 8), alternating destinations.
    std::vector<std::string> texts;
    std::vector<outgoing_datagram> out;
    for (int i = 0; i < 20; ++i) texts.push_back("s" + std::to_string(i));
    for (int i = 0; i < 20; ++i)
      out.push_back({asio::buffer(texts[i]), (i % 2 == 0 ? alice : bob).local_endpoint()});
    auto [ec, sent] = co_await sender.async_send_batch(out, asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(!ec);
    BOOST_TEST(sent == 20u);
    std::array<char, 64> buf{};
    endpoint from;
    asio::steady_timer timer(ctx, 2s);
    for (int i = 0; i < 20; ++i) {
      auto& to = i % 2 == 0 ? alice : bob;
      auto r = co_await (to.async_receive_from(asio::buffer(buf), from, asio::use_awaitable) ||
                         timer.async_wait(asio::use_awaitable));
      BOOST_REQUIRE_MESSAGE(r.index() == 0u, "datagram " << i << " never came");
      BOOST_TEST(std::string(buf.data(), std::get<0>(r)) == texts[i]);
      BOOST_TEST(from == sender.local_endpoint());
    }
  }());
}

BOOST_DATA_TEST_CASE(a_batch_send_to_a_closed_port_still_delivers_the_others, both, kind) {
  auto sender = under_test(kind);
  auto receiver = plain->open(v4_any_port);
  endpoint gone;
  {
    auto closed = plain->open(v4_any_port);
    gone = closed.local_endpoint();
  }  // closed: datagrams to it draw ICMP port unreachable
  run([&]() -> asio::awaitable<void> {
    const std::array<std::string, 3> texts{"g0", "g1", "g2"};
    const std::vector<outgoing_datagram> out{{asio::buffer(texts[0]), receiver.local_endpoint()},
                                             {asio::buffer("x", 1), gone},
                                             {asio::buffer(texts[1]), receiver.local_endpoint()},
                                             {asio::buffer("x", 1), gone},
                                             {asio::buffer(texts[2]), receiver.local_endpoint()}};
    for (int round = 0; round < 2; ++round) {
      auto [ec, sent] = co_await sender.async_send_batch(out, asio::as_tuple(asio::use_awaitable));
      BOOST_TEST(!ec, "round " << round << ": " << ec.message());
      BOOST_TEST(sent >= 3u);
      std::array<char, 64> buf{};
      endpoint from;
      asio::steady_timer timer(ctx, 2s);
      for (const auto& t : texts) {
        auto r = co_await (receiver.async_receive_from(asio::buffer(buf), from, asio::use_awaitable) ||
                           timer.async_wait(asio::use_awaitable));
        BOOST_REQUIRE_MESSAGE(r.index() == 0u, "round " << round << ": " << t << " never came");
        BOOST_TEST(std::string(buf.data(), std::get<0>(r)) == t);
      }
    }
  }());
}

BOOST_DATA_TEST_CASE(empty_batches_complete_with_zero_but_never_inside_the_call, both, kind) {
  auto socket = under_test(kind);
  bool received = false, sent = false;
  std::size_t received_n = 99, sent_n = 99;
  socket.async_receive_batch({}, [&](error_code ec, std::size_t n) {
    BOOST_TEST(!ec);
    received = true;
    received_n = n;
  });
  socket.async_send_batch({}, [&](error_code ec, std::size_t n) {
    BOOST_TEST(!ec);
    sent = true;
    sent_n = n;
  });
  BOOST_TEST(!received, "the empty receive completed inside the call");
  BOOST_TEST(!sent, "the empty send completed inside the call");
  ctx.run_for(1s);
  BOOST_TEST(received);
  BOOST_TEST(sent);
  BOOST_TEST(received_n == 0u);
  BOOST_TEST(sent_n == 0u);
}

BOOST_DATA_TEST_CASE(closing_aborts_a_waiting_batch_receive_and_later_batches_say_socket_closed, both, kind) {
  auto socket = under_test(kind);
  slots s(4);
  bool completed = false;
  error_code result;
  std::size_t count = 99;
  socket.async_receive_batch(s.at, [&](error_code ec, std::size_t n) {
    completed = true;
    result = ec;
    count = n;
  });
  ctx.poll();
  socket.close();
  BOOST_TEST(!completed, "the handler ran inside close()");
  ctx.run_for(2s);
  BOOST_TEST(completed);
  BOOST_TEST(result == make_error_code(asio::error::operation_aborted));
  BOOST_TEST(count == 0u);
  ctx.restart();
  error_code later_receive, later_send;
  const std::array<char, 1> x{'x'};
  const std::vector<outgoing_datagram> out{{asio::buffer(x), v4_any_port}};
  socket.async_receive_batch(s.at, [&](error_code ec, std::size_t) { later_receive = ec; });
  socket.async_send_batch(out, [&](error_code ec, std::size_t) { later_send = ec; });
  ctx.run_for(2s);
  BOOST_TEST(later_receive == make_error_code(punch::errc::socket_closed));
  BOOST_TEST(later_send == make_error_code(punch::errc::socket_closed));
}

BOOST_DATA_TEST_CASE(a_cancellation_slot_aborts_a_waiting_batch_receive_and_the_socket_still_works, both, kind) {
  auto socket = under_test(kind);
  auto client = plain->open(v4_any_port);
  asio::cancellation_signal signal;
  slots s(4);
  error_code result;
  bool completed = false;
  socket.async_receive_batch(s.at, asio::bind_cancellation_slot(signal.slot(), [&](error_code ec, std::size_t) {
                               result = ec;
                               completed = true;
                             }));
  ctx.poll();
  BOOST_TEST(!completed);
  signal.emit(asio::cancellation_type::terminal);
  ctx.run_for(2s);
  BOOST_TEST(completed);
  BOOST_TEST(result == make_error_code(asio::error::operation_aborted));
  ctx.restart();
  run([&]() -> asio::awaitable<void> {
    co_await send_numbered(client, socket.local_endpoint(), "after", 1);
    const std::size_t n = co_await socket.async_receive_batch(s.at, asio::use_awaitable);
    BOOST_TEST(n == 1u);
    BOOST_TEST(s.text(0) == "after0");
  }());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()  // udp_batch_ops_test
