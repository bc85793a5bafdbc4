// Sim sockets: binding rules, every completion token, cancellation (close, cancellation
// slots, racing a timer with ||), queue limits, truncation, and lifetimes.
#include "sim_fixture.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/deferred.hpp>

#include <optional>

BOOST_AUTO_TEST_SUITE(sim_socket_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace sim_test;
using sim::event_kind;

namespace {

// Two public hosts, a (203.0.113.1) and b (203.0.113.2).
struct two_hosts : world {
  sim::host& a = net.add_host("a", net.internet(), addr("203.0.113.1"));
  sim::host& b = net.add_host("b", net.internet(), addr("203.0.113.2"));
};

// What a plain callback was called with.
struct outcome {
  bool called = false;
  punch::error_code ec;
  std::size_t bytes = 0;
  auto handler() {
    return [this](punch::error_code e, std::size_t n) {
      called = true;
      ec = e;
      bytes = n;
    };
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(sim_socket)

BOOST_AUTO_TEST_CASE(open_binds_ports_by_the_host_rules) {
  two_hosts t;
  auto& transport = t.a.transport();
  BOOST_TEST(transport.name() == "sim");

  auto first = transport.open({});
  auto second = transport.open({addr("0.0.0.0"), 0});
  BOOST_TEST(first.local_endpoint() == ep("203.0.113.1", 49152));
  BOOST_TEST(second.local_endpoint() == ep("203.0.113.1", 49153));
  auto fixed = transport.open(ep("203.0.113.1", 3478));
  BOOST_TEST(fixed.is_open());
  BOOST_TEST(t.a.open_sockets() == 3u);

  punch::error_code ec;
  auto taken = transport.open({{}, 3478}, ec);
  BOOST_TEST((ec == punch::errc::address_in_use));
  BOOST_TEST(!taken.is_open());
  auto elsewhere = transport.open(ep("203.0.113.2", 1000), ec);
  BOOST_TEST((ec == punch::errc::address_not_available));
  BOOST_CHECK_THROW(transport.open(ep("203.0.113.2", 1000)), punch::system_error);

  fixed.close();
  BOOST_TEST(!fixed.is_open());
  auto again = transport.open({{}, 3478}, ec);
  BOOST_TEST(!ec);
  BOOST_TEST(again.is_open());
}

BOOST_AUTO_TEST_CASE(use_awaitable_delivers_the_bytes_and_the_sender) {
  two_hosts t;
  t.run([&]() -> asio::awaitable<void> {
    auto a = t.a.transport().open({{}, 1000});
    auto b = t.b.transport().open({{}, 2000});
    const std::string text = "awaited";
    const std::size_t sent =
        co_await a.async_send_to(asio::buffer(text), b.local_endpoint(), asio::use_awaitable);
    BOOST_TEST(sent == text.size());
    std::array<char, 32> buffer{};
    endpoint from;
    const std::size_t n =
        co_await b.async_receive_from(asio::buffer(buffer), from, asio::use_awaitable);
    BOOST_TEST(std::string(buffer.data(), n) == text);
    BOOST_TEST(from == a.local_endpoint());
  }());
}

BOOST_AUTO_TEST_CASE(as_tuple_returns_the_error_instead_of_throwing) {
  two_hosts t;
  t.run([&]() -> asio::awaitable<void> {
    auto a = t.a.transport().open({{}, 1000});
    auto b = t.b.transport().open({{}, 2000});
    co_await send(a, "tuple", b.local_endpoint());
    std::array<char, 32> buffer{};
    endpoint from;
    auto [ec, n] = co_await b.async_receive_from(asio::buffer(buffer), from,
                                                 asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(!ec);
    BOOST_TEST(std::string(buffer.data(), n) == "tuple");
    b.close();
    auto [closed_ec, zero] = co_await b.async_receive_from(asio::buffer(buffer), from,
                                                           asio::as_tuple(asio::use_awaitable));
    BOOST_TEST((closed_ec == punch::errc::socket_closed));
    BOOST_TEST(zero == 0u);
  }());
}

BOOST_AUTO_TEST_CASE(a_plain_callback_is_never_called_inside_the_initiating_call) {
  two_hosts t;
  auto a = t.a.transport().open({{}, 1000});
  auto b = t.b.transport().open({{}, 2000});
  const std::string text = "callback";
  outcome sent, received;
  std::array<char, 32> buffer{};
  endpoint from;
  a.async_send_to(asio::buffer(text), b.local_endpoint(), sent.handler());
  BOOST_TEST(!sent.called);
  t.settle();  // returns when the datagram has arrived and been queued
  BOOST_TEST(sent.called);
  BOOST_TEST(sent.bytes == text.size());
  // Even with a datagram already queued, the receive completes later.
  b.async_receive_from(asio::buffer(buffer), from, received.handler());
  BOOST_TEST(!received.called);
  t.settle();
  BOOST_TEST(received.called);
  BOOST_TEST(!received.ec);
  BOOST_TEST(std::string(buffer.data(), received.bytes) == text);
}

BOOST_AUTO_TEST_CASE(deferred_operations_start_only_when_invoked) {
  two_hosts t;
  t.run([&]() -> asio::awaitable<void> {
    auto a = t.a.transport().open({{}, 1000});
    auto b = t.b.transport().open({{}, 2000});
    const std::string text = "later";
    auto op = a.async_send_to(asio::buffer(text), b.local_endpoint(), asio::deferred);
    BOOST_TEST(t.net.datagrams_sent() == 0u);
    const std::size_t n = co_await std::move(op)(asio::use_awaitable);
    BOOST_TEST(n == text.size());
    BOOST_TEST(t.net.datagrams_sent() == 1u);
    std::array<char, 32> buffer{};
    endpoint from;
    const std::size_t got =
        co_await b.async_receive_from(asio::buffer(buffer), from, asio::deferred);
    BOOST_TEST(std::string(buffer.data(), got) == text);
  }());
}

BOOST_AUTO_TEST_CASE(close_cancels_a_pending_receive_with_operation_aborted) {
  two_hosts t;
  auto b = t.b.transport().open({{}, 2000});
  outcome received;
  std::array<char, 32> buffer{};
  endpoint from;
  b.async_receive_from(asio::buffer(buffer), from, received.handler());
  t.ctx.poll();
  BOOST_TEST(!received.called);
  b.close();
  BOOST_TEST(!received.called);  // not inside close() either
  t.settle();  // the limits only matter if close() forgot the receive
  BOOST_TEST(received.called);
  BOOST_TEST((received.ec == asio::error::operation_aborted));
  BOOST_TEST(t.b.open_sockets() == 0u);
}

BOOST_AUTO_TEST_CASE(a_receive_raced_against_a_timer_is_cancelled_cleanly) {
  using namespace asio::experimental::awaitable_operators;
  two_hosts t;
  t.run([&]() -> asio::awaitable<void> {
    auto a = t.a.transport().open({{}, 1000});
    auto b = t.b.transport().open({{}, 2000});
    std::array<char, 32> buffer{};
    endpoint from;
    punch::timer timer(co_await asio::this_coro::executor, t.net.clock(), 20ms);
    auto winner = co_await (b.async_receive_from(asio::buffer(buffer), from, asio::use_awaitable) ||
                            timer.async_wait(asio::use_awaitable));
    BOOST_TEST(winner.index() == 1u);
    BOOST_TEST(b.is_open());
    // The cancelled receive is gone: the next datagram goes to the next receive.
    co_await send(a, "after the race", b.local_endpoint());
    const std::size_t n =
        co_await b.async_receive_from(asio::buffer(buffer), from, asio::use_awaitable);
    BOOST_TEST(std::string(buffer.data(), n) == "after the race");
  }());
}

BOOST_AUTO_TEST_CASE(a_receive_that_wins_the_race_cancels_the_timer_instead) {
  using namespace asio::experimental::awaitable_operators;
  two_hosts t;
  t.run([&]() -> asio::awaitable<void> {
    auto a = t.a.transport().open({{}, 1000});
    auto b = t.b.transport().open({{}, 2000});
    std::array<char, 32> buffer{};
    endpoint from;
    punch::timer timer(co_await asio::this_coro::executor, t.net.clock(), 10s);
    co_await send(a, "first", b.local_endpoint());
    auto winner = co_await (b.async_receive_from(asio::buffer(buffer), from, asio::use_awaitable) ||
                            timer.async_wait(asio::use_awaitable));
    BOOST_REQUIRE(winner.index() == 0u);
    BOOST_TEST(std::string(buffer.data(), std::get<0>(winner)) == "first");
  }());
}

BOOST_AUTO_TEST_CASE(partial_cancellation_through_a_bound_slot_aborts_the_receive) {
  two_hosts t;
  auto b = t.b.transport().open({{}, 2000});
  asio::cancellation_signal signal;
  outcome received;
  std::array<char, 32> buffer{};
  endpoint from;
  b.async_receive_from(asio::buffer(buffer), from,
                       asio::bind_cancellation_slot(signal.slot(), received.handler()));
  t.ctx.poll();
  signal.emit(asio::cancellation_type::partial);
  t.settle();  // the limits only matter if the slot was ignored
  BOOST_TEST(received.called);
  BOOST_TEST((received.ec == asio::error::operation_aborted));
  BOOST_TEST(b.is_open());
  // A signal emitted again after completion finds nothing to cancel.
  signal.emit(asio::cancellation_type::terminal);
}

BOOST_AUTO_TEST_CASE(a_full_receive_queue_drops_and_reports_queue_full) {
  two_hosts t;
  t.b.set_receive_queue_limit(4);
  auto a = t.a.transport().open({{}, 1000});
  auto b = t.b.transport().open({{}, 2000});
  for (int i = 0; i < 6; ++i) {
    const std::string text = std::to_string(i);
    a.async_send_to(asio::buffer(text), b.local_endpoint(), [](punch::error_code, std::size_t) {});
  }
  t.settle();
  BOOST_TEST(t.count(event_kind::delivered) == 4u);
  BOOST_TEST(t.count(event_kind::queue_full) == 2u);
  std::array<char, 8> buffer{};
  endpoint from;
  std::vector<std::string> texts;
  for (int i = 0; i < 4; ++i) {
    outcome r;
    b.async_receive_from(asio::buffer(buffer), from, r.handler());
    t.settle();
    BOOST_REQUIRE(r.called);
    texts.emplace_back(buffer.data(), r.bytes);
  }
  BOOST_TEST(texts == (std::vector<std::string>{"0", "1", "2", "3"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_datagram_larger_than_the_buffer_is_truncated) {
  two_hosts t;
  t.run([&]() -> asio::awaitable<void> {
    auto a = t.a.transport().open({{}, 1000});
    auto b = t.b.transport().open({{}, 2000});
    co_await send(a, "0123456789abcdef", b.local_endpoint());
    co_await send(a, "next", b.local_endpoint());
    std::array<char, 10> small{};
    endpoint from;
    const std::size_t n =
        co_await b.async_receive_from(asio::buffer(small), from, asio::use_awaitable);
    BOOST_TEST(std::string(small.data(), n) == "0123456789");
    // The rest of a truncated datagram is gone, as with UDP.
    auto next = co_await receive(b);
    BOOST_REQUIRE(next);
    BOOST_TEST(next->text == "next");
  }());
}

BOOST_AUTO_TEST_CASE(operations_on_a_closed_socket_fail_with_socket_closed) {
  two_hosts t;
  t.run([&]() -> asio::awaitable<void> {
    auto a = t.a.transport().open({{}, 1000});
    a.close();
    const std::string text = "too late";
    auto [ec, n] = co_await a.async_send_to(asio::buffer(text), ep("203.0.113.2", 2000),
                                            asio::as_tuple(asio::use_awaitable));
    BOOST_TEST((ec == punch::errc::socket_closed));
    BOOST_TEST(n == 0u);
    BOOST_TEST(t.net.datagrams_sent() == 0u);
  }());
}

BOOST_AUTO_TEST_CASE(a_datagram_over_the_udp_limit_is_refused) {
  two_hosts t;
  t.run([&]() -> asio::awaitable<void> {
    auto a = t.a.transport().open({{}, 1000});
    std::vector<char> huge(65508);
    auto [ec, n] = co_await a.async_send_to(asio::buffer(huge), ep("203.0.113.2", 2000),
                                            asio::as_tuple(asio::use_awaitable));
    BOOST_TEST((ec == asio::error::message_size));
    BOOST_TEST(n == 0u);
  }());
}

BOOST_AUTO_TEST_CASE(sockets_outlive_their_network_and_their_receives_are_aborted) {
  asio::io_context ctx;
  std::optional<sim::network> net;
  net.emplace(ctx.get_executor(), 1);
  auto& h = net->add_host("h", net->internet(), addr("203.0.113.1"));
  auto s = h.transport().open({{}, 1000});
  outcome received;
  std::array<char, 8> buffer{};
  endpoint from;
  s.async_receive_from(asio::buffer(buffer), from, received.handler());
  net.reset();
  ctx.run();
  BOOST_TEST(received.called);
  BOOST_TEST((received.ec == asio::error::operation_aborted));
  BOOST_TEST(!s.is_open());
  s.close();  // harmless
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()  // sim_socket_test
