// Tests of the "udp" transport over loopback (127.0.0.1, and ::1 where configured): datagrams,
// binding and its error codes, close and cancellation, and every completion token.
#include "run_coroutine.hpp"

#include "punch/plugins/udp.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

BOOST_AUTO_TEST_SUITE(udp_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using punch::endpoint;
using punch::error_code;

// The error_code for an error enum, so that BOOST_TEST can print both sides.
template <typename Enum>
error_code code(Enum e) {
  return make_error_code(e);
}

std::string_view text(const std::array<char, 64>& buf, std::size_t n) { return {buf.data(), n}; }

// CTest marks a test skipped when its output says so; warning level survives --log_level=warning.
void skip(const std::string& why) {
  BOOST_TEST_MESSAGE("SKIPPED: " << why);
  BOOST_WARN_MESSAGE(false, "SKIPPED: " << why);
}

const endpoint v4_any_port{asio::ip::address_v4::loopback(), 0};

struct fixture {
  asio::io_context ctx;
  std::unique_ptr<punch::transport> udp = make();

  std::unique_ptr<punch::transport> make() {
    error_code ec;
    auto made = punch::udp::make_transport(ctx.get_executor(), {}, ec);
    BOOST_REQUIRE(!ec);
    return made;
  }

  void run(asio::awaitable<void> body) { test::run_to_completion(ctx, std::move(body)); }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(udp, fixture)

BOOST_AUTO_TEST_CASE(the_transport_is_named_udp_and_runs_on_the_given_executor) {
  BOOST_TEST(udp->name() == "udp");
  BOOST_TEST((udp->get_executor() == asio::any_io_executor(ctx.get_executor())));
  auto socket = udp->open(v4_any_port);
  BOOST_TEST((socket.get_executor() == asio::any_io_executor(ctx.get_executor())));
}

BOOST_AUTO_TEST_CASE(unknown_options_and_bad_values_are_rejected_with_invalid_transport_option) {
  for (const punch::transport_options& bad :
       {punch::transport_options{{"colour", "blue"}}, {{"batch", "0"}}, {{"batch", "65"}}, {{"batch", "8x"}},
        {{"receive-buffer", "-1"}}, {{"reuse-port", "maybe"}}}) {
    error_code ec;
    BOOST_TEST(!punch::udp::make_transport(ctx.get_executor(), bad, ec));
    BOOST_TEST(ec == code(punch::errc::invalid_transport_option), bad.begin()->first << "=" << bad.begin()->second);
  }
  error_code ec;
  BOOST_TEST(punch::udp::make_transport(ctx.get_executor(),
                                        {{"batch", "64"}, {"receive-buffer", "1048576"}, {"send-buffer", "65536"},
                                         {"reuse-port", "true"}}, ec));
  BOOST_TEST(!ec);
}

BOOST_AUTO_TEST_CASE(binding_port_zero_picks_a_non_zero_ephemeral_port) {
  auto socket = udp->open(v4_any_port);
  BOOST_TEST(socket.is_open());
  BOOST_TEST(socket.local_endpoint().address() == asio::ip::address(asio::ip::address_v4::loopback()));
  BOOST_TEST(socket.local_endpoint().port() != 0);
}

BOOST_AUTO_TEST_CASE(an_unspecified_endpoint_binds_every_ipv4_interface_on_an_ephemeral_port) {
  auto any = udp->open(endpoint{});
  BOOST_TEST(any.local_endpoint().address() == asio::ip::address(asio::ip::address_v4::any()));
  BOOST_TEST(any.local_endpoint().port() != 0);
  auto sender = udp->open(v4_any_port);
  run([&]() -> asio::awaitable<void> {
    const endpoint via_loopback{asio::ip::address_v4::loopback(), any.local_endpoint().port()};
    co_await sender.async_send_to(asio::buffer("hi", 2), via_loopback, asio::use_awaitable);
    std::array<char, 64> buf{};
    endpoint from;
    std::size_t n = co_await any.async_receive_from(asio::buffer(buf), from, asio::use_awaitable);
    BOOST_TEST(text(buf, n) == "hi");
  }());
}

BOOST_AUTO_TEST_CASE(a_datagram_sent_on_ipv4_loopback_arrives_with_its_sender) {
  auto alice = udp->open(v4_any_port);
  auto bob = udp->open(v4_any_port);
  run([&]() -> asio::awaitable<void> {
    std::size_t sent = co_await alice.async_send_to(asio::buffer("hello bob", 9),
                                                    bob.local_endpoint(), asio::use_awaitable);
    BOOST_TEST(sent == 9u);
    std::array<char, 64> buf{};
    endpoint from;
    std::size_t n = co_await bob.async_receive_from(asio::buffer(buf), from, asio::use_awaitable);
    BOOST_TEST(text(buf, n) == "hello bob");
    BOOST_TEST(from == alice.local_endpoint());
  }());
}

BOOST_AUTO_TEST_CASE(a_datagram_larger_than_the_buffer_is_truncated_to_the_buffer) {
  auto alice = udp->open(v4_any_port);
  auto bob = udp->open(v4_any_port);
  run([&]() -> asio::awaitable<void> {
    co_await alice.async_send_to(asio::buffer("0123456789", 10), bob.local_endpoint(),
                                 asio::use_awaitable);
    std::array<char, 64> buf{};
    endpoint from;
    std::size_t n = co_await bob.async_receive_from(asio::buffer(buf, 4), from,
                                                    asio::use_awaitable);
    BOOST_TEST(text(buf, n) == "0123");
  }());
}

BOOST_AUTO_TEST_CASE(binding_a_taken_port_fails_with_address_in_use) {
  auto first = udp->open(v4_any_port);
  error_code ec;
  auto second = udp->open(first.local_endpoint(), ec);
  BOOST_TEST(ec == code(punch::errc::address_in_use));
  BOOST_TEST(&ec.category() == &punch::category());
  BOOST_TEST(!second.is_open());

  std::ostringstream where;
  where << first.local_endpoint();
  BOOST_CHECK_EXCEPTION(udp->open(first.local_endpoint()), punch::system_error,
                        [&](const punch::system_error& e) {
                          const std::string what = e.what();
                          return e.code() == punch::errc::address_in_use &&
                                 what.find("\"udp\"") != std::string::npos &&
                                 what.find(where.str()) != std::string::npos;
                        });
}

BOOST_AUTO_TEST_CASE(binding_an_address_of_another_host_fails_with_address_not_available) {
  // With ip_nonlocal_bind the kernel accepts any address, so there is nothing to test.
  char nonlocal = '0';
  std::ifstream("/proc/sys/net/ipv4/ip_nonlocal_bind") >> nonlocal;
  if (nonlocal != '0') return skip("net.ipv4.ip_nonlocal_bind is set");
  error_code ec;
  udp->open({asio::ip::make_address("192.0.2.1"), 0}, ec);  // RFC 5737 TEST-NET-1
  BOOST_TEST(ec == code(punch::errc::address_not_available));
}

BOOST_AUTO_TEST_CASE(closing_a_socket_aborts_its_pending_receive_with_a_plain_callback) {
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
  ctx.run();
  BOOST_TEST(completed);
  BOOST_TEST(result == code(asio::error::operation_aborted));
}

BOOST_AUTO_TEST_CASE(use_awaitable_throws_operation_aborted_when_the_socket_closes) {
  auto socket = udp->open(v4_any_port);
  run([&]() -> asio::awaitable<void> {
    std::array<char, 64> buf{};
    endpoint from;
    asio::post(ctx, [&] { socket.close(); });
    BOOST_CHECK_EXCEPTION(
        co_await socket.async_receive_from(asio::buffer(buf), from, asio::use_awaitable),
        punch::system_error, [](const punch::system_error& e) {
          return e.code() == asio::error::operation_aborted;
        });
  }());
}

BOOST_AUTO_TEST_CASE(as_tuple_returns_socket_closed_for_operations_on_a_closed_socket) {
  auto socket = udp->open(v4_any_port);
  socket.close();
  run([&]() -> asio::awaitable<void> {
    std::array<char, 64> buf{};
    endpoint from;
    auto [send_ec, sent] = co_await socket.async_send_to(
        asio::buffer("x", 1), v4_any_port, asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(send_ec == code(punch::errc::socket_closed));
    BOOST_TEST(sent == 0u);
    auto [receive_ec, received] = co_await socket.async_receive_from(
        asio::buffer(buf), from, asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(receive_ec == code(punch::errc::socket_closed));
    BOOST_TEST(received == 0u);
  }());
}

BOOST_AUTO_TEST_CASE(deferred_operations_run_when_launched) {
  auto alice = udp->open(v4_any_port);
  auto bob = udp->open(v4_any_port);
  std::array<char, 64> buf{};
  endpoint from;
  auto receive = bob.async_receive_from(asio::buffer(buf), from, asio::deferred);
  auto send = alice.async_send_to(asio::buffer("later", 5), bob.local_endpoint(), asio::deferred);
  std::size_t received = 0, sent = 0;
  std::move(receive)([&](error_code ec, std::size_t n) {
    BOOST_TEST(!ec);
    received = n;
  });
  std::move(send)([&](error_code ec, std::size_t n) {
    BOOST_TEST(!ec);
    sent = n;
  });
  ctx.run_for(5s);
  BOOST_TEST(sent == 5u);
  BOOST_TEST(text(buf, received) == "later");
  BOOST_TEST(from == alice.local_endpoint());
}

BOOST_AUTO_TEST_CASE(a_cancellation_slot_aborts_a_pending_receive) {
  auto socket = udp->open(v4_any_port);
  asio::cancellation_signal signal;
  std::array<char, 64> buf{};
  endpoint from;
  error_code result;
  socket.async_receive_from(
      asio::buffer(buf), from,
      asio::bind_cancellation_slot(signal.slot(), [&](error_code ec, std::size_t) { result = ec; }));
  signal.emit(asio::cancellation_type::terminal);
  ctx.run_for(5s);
  BOOST_TEST(result == code(asio::error::operation_aborted));
  BOOST_TEST(socket.is_open());
}

BOOST_AUTO_TEST_CASE(a_receive_raced_against_a_timer_is_cancelled_when_the_timer_wins) {
  auto socket = udp->open(v4_any_port);
  auto sender = udp->open(v4_any_port);
  run([&]() -> asio::awaitable<void> {
    std::array<char, 64> buf{};
    endpoint from;
    asio::steady_timer timer{ctx, 20ms};
    auto winner = co_await (socket.async_receive_from(asio::buffer(buf), from, asio::use_awaitable) ||
                            timer.async_wait(asio::use_awaitable));
    BOOST_TEST(winner.index() == 1u);
    // Had the losing receive stayed pending it would swallow this datagram and the next
    // receive would never finish.
    co_await sender.async_send_to(asio::buffer("next", 4), socket.local_endpoint(),
                                  asio::use_awaitable);
    std::size_t n = co_await socket.async_receive_from(asio::buffer(buf), from, asio::use_awaitable);
    BOOST_TEST(text(buf, n) == "next");
  }());
}

BOOST_AUTO_TEST_CASE(a_receive_wins_the_race_when_the_datagram_comes_first) {
  auto socket = udp->open(v4_any_port);
  auto sender = udp->open(v4_any_port);
  run([&]() -> asio::awaitable<void> {
    co_await sender.async_send_to(asio::buffer("first", 5), socket.local_endpoint(),
                                  asio::use_awaitable);
    std::array<char, 64> buf{};
    endpoint from;
    asio::steady_timer timer{ctx, 4s};
    auto winner = co_await (socket.async_receive_from(asio::buffer(buf), from, asio::use_awaitable) ||
                            timer.async_wait(asio::use_awaitable));
    BOOST_REQUIRE(winner.index() == 0u);
    BOOST_TEST(text(buf, std::get<0>(winner)) == "first");
  }());
}

BOOST_AUTO_TEST_SUITE_END()

// Its own CTest entry (udp_ipv6_test), so that a host without ::1 skips only this.
BOOST_AUTO_TEST_SUITE(udp_ipv6, *boost::unit_test::disabled())

BOOST_FIXTURE_TEST_CASE(a_datagram_sent_on_ipv6_loopback_arrives_with_its_sender, fixture) {
  const endpoint v6_any_port{asio::ip::address_v6::loopback(), 0};
  error_code ec;
  auto alice = udp->open(v6_any_port, ec);
  if (ec) return skip("IPv6 loopback ::1 is not configured (" + ec.message() + ")");
  auto bob = udp->open(v6_any_port);
  BOOST_TEST(bob.local_endpoint().address().is_v6());
  BOOST_TEST(bob.local_endpoint().port() != 0);
  run([&]() -> asio::awaitable<void> {
    co_await alice.async_send_to(asio::buffer("over v6", 7), bob.local_endpoint(),
                                 asio::use_awaitable);
    std::array<char, 64> buf{};
    endpoint from;
    std::size_t n = co_await bob.async_receive_from(asio::buffer(buf), from, asio::use_awaitable);
    BOOST_TEST(text(buf, n) == "over v6");
    BOOST_TEST(from == alice.local_endpoint());
  }());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()  // udp_test
