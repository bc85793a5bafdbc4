// The session's and the connection's operations take any completion token, error_code first
// (punch/async.hpp): use_awaitable throws, as_tuple returns the code, a callback gets it,
// deferred starts the operation when awaited; a peer's normal close is asio::error::eof at
// receive; cancellation through the token's slot ends an operation with operation_aborted.
#include "session_test_support.hpp"
#include "sim_world.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <optional>
#include <string>

BOOST_AUTO_TEST_SUITE(completion_tokens_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace punch;
using namespace punch::test;
using namespace boost::asio::experimental::awaitable_operators;
namespace asio = boost::asio;

namespace {

// Waits for a callback's completion without sleeping: the callback cancels the timer.
struct callback_result {
  explicit callback_result(asio::io_context& ctx) : done(ctx, asio::steady_timer::time_point::max()) {}
  asio::steady_timer done;
  bool called = false;
  error_code ec;
  asio::awaitable<void> wait() {
    if (!called) co_await done.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  void finish(error_code e) {
    called = true;
    ec = e;
    done.cancel();
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(completion_tokens)

BOOST_AUTO_TEST_CASE(connect_completes_through_every_kind_of_token) {
  sim_world w;
  auto& alice = w.add_session(w.add_peer_host("alice", "full-cone"), "alice", quick());
  auto& bob = w.add_session(w.add_peer_host("bob", "restricted-cone"), "bob", quick());
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());

    // use_awaitable (the default): a failure is a system_error whose message names the peer.
    error_code thrown;
    std::string what;
    try {
      co_await alice.connect("nobody", asio::use_awaitable);
    } catch (const system_error& e) {
      thrown = e.code();
      what = e.what();
    }
    BOOST_CHECK_EQUAL(thrown, make_error_code(errc::peer_not_found));
    BOOST_CHECK_MESSAGE(what.find("\"nobody\"") != std::string::npos, what);

    // as_tuple: the code, no exception; the connection is empty.
    auto [ec, none] = co_await alice.connect("nobody", asio::as_tuple(asio::use_awaitable));
    BOOST_CHECK_EQUAL(ec, make_error_code(errc::peer_not_found));
    BOOST_CHECK(!none);

    // A callback gets the code first.
    callback_result cb(w.ctx);
    alice.connect("nobody", [&](error_code e, connection c) {
      BOOST_CHECK(!c);
      cb.finish(e);
    });
    co_await cb.wait();
    BOOST_CHECK(cb.called);
    BOOST_CHECK_EQUAL(cb.ec, make_error_code(errc::peer_not_found));

    // deferred: nothing happens until the operation is awaited (the broker would have
    // introduced alice to bob well within 300 ms); then it connects.
    bool introduced = false;
    bob.on_event([&](const session_event& e) { introduced |= e.what == session_event::kind::introduced; });
    auto op = alice.connect("bob", asio::deferred);
    punch::timer idle(w.ctx.get_executor(), w.net.clock(), 300ms);
    co_await idle.async_wait(asio::use_awaitable);
    BOOST_CHECK(!introduced);
    auto [connect_ec, ca, accepted] = co_await (std::move(op)(asio::as_tuple(asio::use_awaitable)) && bob.accept());
    BOOST_CHECK(!connect_ec);
    BOOST_REQUIRE(ca);
    BOOST_CHECK_EQUAL(ca.peer(), "bob");
    BOOST_CHECK_EQUAL(accepted.peer(), "alice");
    BOOST_CHECK(introduced);
    co_await send_text(ca, "deferred");
    BOOST_CHECK_EQUAL(co_await receive_text(accepted), "deferred");
  }());
}

BOOST_AUTO_TEST_CASE(a_normal_close_is_eof_at_receive_for_every_kind_of_token) {
  sim_world w;
  auto& alice = w.add_session(w.add_peer_host("alice", "full-cone"), "alice", quick());
  auto& bob = w.add_session(w.add_peer_host("bob", "port-restricted-cone"), "bob", quick());
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
    co_await send_text(ca, "one");
    co_await send_text(ca, "two");
    co_await ca.close();
    std::array<char, 64> buf;

    // Queued datagrams first, whatever the token: a callback, then deferred.
    callback_result first(w.ctx);
    std::size_t got = 0;
    cb.receive(asio::buffer(buf), [&](error_code e, std::size_t n) {
      got = n;
      first.finish(e);
    });
    co_await first.wait();
    BOOST_CHECK(!first.ec);
    BOOST_CHECK_EQUAL(std::string(buf.data(), got), "one");
    auto [second_ec, n2] = co_await cb.receive(asio::buffer(buf), asio::deferred)(asio::as_tuple(asio::use_awaitable));
    BOOST_CHECK(!second_ec);
    BOOST_CHECK_EQUAL(std::string(buf.data(), n2), "two");

    // Then the close: eof under as_tuple, without an exception...
    auto [ec, n] = co_await cb.receive(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    BOOST_CHECK_EQUAL(ec, error_code(asio::error::eof));
    BOOST_CHECK_EQUAL(n, 0u);
    // ...to a callback...
    callback_result later(w.ctx);
    cb.receive(asio::buffer(buf), [&](error_code e, std::size_t) { later.finish(e); });
    co_await later.wait();
    BOOST_CHECK_EQUAL(later.ec, error_code(asio::error::eof));
    // ...and thrown under use_awaitable, with a message that names the peer.
    error_code thrown;
    std::string what;
    try {
      co_await cb.receive(asio::buffer(buf));
    } catch (const system_error& e) {
      thrown = e.code();
      what = e.what();
    }
    BOOST_CHECK_EQUAL(thrown, error_code(asio::error::eof));
    BOOST_CHECK_MESSAGE(what.find("\"alice\"") != std::string::npos, what);
  }());
}

BOOST_AUTO_TEST_CASE(a_cancellation_slot_ends_accept_and_receive_with_operation_aborted) {
  sim_world w;
  auto& alice = w.add_session(w.add_peer_host("alice", "full-cone"), "alice", quick());
  auto& bob = w.add_session(w.add_peer_host("bob", "full-cone"), "bob", quick());
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());

    // `||` with a timer: the timer wins, accept() is cancelled and stops waiting.
    punch::timer timer(w.ctx.get_executor(), w.net.clock(), 50ms);
    auto first = co_await (bob.accept(asio::as_tuple(asio::use_awaitable)) || timer.async_wait(asio::use_awaitable));
    BOOST_CHECK_EQUAL(first.index(), 1u);

    // A callback bound to a slot: emitting on it completes the accept with operation_aborted.
    asio::cancellation_signal signal;
    callback_result aborted(w.ctx);
    bob.accept(asio::bind_cancellation_slot(signal.slot(), [&](error_code e, connection c) {
      BOOST_CHECK(!c);
      aborted.finish(e);
    }));
    punch::timer later(w.ctx.get_executor(), w.net.clock(), 10ms);
    co_await later.async_wait(asio::use_awaitable);
    BOOST_CHECK(!aborted.called);
    signal.emit(asio::cancellation_type::terminal);
    co_await aborted.wait();
    BOOST_CHECK_EQUAL(aborted.ec, error_code(asio::error::operation_aborted));

    // The session still accepts afterwards, and a cancelled receive leaves the connection open.
    auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
    std::array<char, 64> buf;
    punch::timer quiet(w.ctx.get_executor(), w.net.clock(), 50ms);
    auto r = co_await (cb.receive(asio::buffer(buf), asio::as_tuple(asio::use_awaitable)) ||
                       quiet.async_wait(asio::use_awaitable));
    BOOST_CHECK_EQUAL(r.index(), 1u);
    BOOST_CHECK(cb.is_open());
    co_await send_text(ca, "still here");
    BOOST_CHECK_EQUAL(co_await receive_text(cb), "still here");
  }());
}

BOOST_AUTO_TEST_CASE(operations_on_an_empty_or_locally_closed_connection_give_their_own_codes) {
  sim_world w;
  auto& alice = w.add_session(w.add_peer_host("alice", "full-cone"), "alice", quick());
  auto& bob = w.add_session(w.add_peer_host("bob", "full-cone"), "bob", quick());
  w.run([&]() -> asio::awaitable<void> {
    connection empty;
    std::array<char, 64> buf;
    auto [e1, n1] = co_await empty.receive(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    BOOST_CHECK_EQUAL(e1, make_error_code(errc::empty_connection));
    auto [e2] = co_await empty.send(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    BOOST_CHECK_EQUAL(e2, make_error_code(errc::empty_connection));

    co_await (alice.register_self() && bob.register_self());
    auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
    std::array<char, connection::max_payload() + 1> big{};
    auto [e3] = co_await ca.send(asio::buffer(big), asio::as_tuple(asio::use_awaitable));
    BOOST_CHECK_EQUAL(e3, make_error_code(errc::payload_too_large));
    alice.close();
    auto [e4] = co_await ca.send(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    BOOST_CHECK_EQUAL(e4, make_error_code(errc::session_closed));
    auto [e5, none] = co_await alice.accept(asio::as_tuple(asio::use_awaitable));
    BOOST_CHECK_EQUAL(e5, make_error_code(errc::session_closed));
    BOOST_CHECK(!none);
  }());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()  // completion_tokens_test
