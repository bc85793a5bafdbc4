// Broker and peer sessions on the simulated network: every NAT pair, same-NAT peers, loss,
// broker restart, expiry, unknown peers, data both ways and close.
#include "session_test_support.hpp"
#include "sim_world.hpp"
#include "tap_transport.hpp"

#include "punch/wire/protocol.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <optional>
#include <utility>
#include <vector>
#include <string_view>

BOOST_AUTO_TEST_SUITE(session_sim_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace punch;
using namespace punch::test;
using namespace boost::asio::experimental::awaitable_operators;
namespace asio = boost::asio;

namespace {

// alice connects to bob; both exchange one message each way. Returns the two connections.
asio::awaitable<std::pair<connection, connection>> connect_pair(session& alice, session& bob) {
  co_await (alice.register_self() && bob.register_self());
  auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
  co_await send_text(ca, "hello bob");
  BOOST_CHECK_EQUAL(co_await receive_text(cb), "hello bob");
  co_await send_text(cb, "hello alice");
  BOOST_CHECK_EQUAL(co_await receive_text(ca), "hello alice");
  co_return std::pair{ca, cb};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(session_on_simulated_network)

BOOST_AUTO_TEST_CASE(every_nat_pair_connects_where_punching_or_port_prediction_can_work_and_times_out_where_it_cannot) {
  for (const char* a : nat_types) {
    for (const char* b : nat_types) {
      BOOST_TEST_CONTEXT("alice behind " << a << ", bob behind " << b) {
        sim_world w;
        auto& alice = w.add_session(w.add_peer_host("alice", a), "alice", quick());
        auto& bob = w.add_session(w.add_peer_host("bob", b), "bob", quick());
        error_code failure;
        w.run([&]() -> asio::awaitable<void> {
          try {
            co_await connect_pair(alice, bob);
          } catch (...) {
            failure = sim_world::code_of(std::current_exception());
          }
        }());
        if (connects_directly(a, b)) {
          BOOST_CHECK_MESSAGE(!failure, "expected a connection, got " << failure.message());
        } else {
          BOOST_CHECK_EQUAL(failure, make_error_code(errc::punch_timeout));
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(peers_behind_the_same_nat_without_hairpinning_connect_over_host_candidates) {
  sim_world w;
  auto behaviour = sim::nat_behaviour::port_restricted_cone();
  behaviour.hairpinning = false;
  auto& nat = w.net.add_nat("home", w.net.internet(), addr("198.51.100.50"), behaviour, w.link);
  auto& alice = w.add_session(w.net.add_host("alice", nat.inside(), addr("10.0.0.2"), w.link), "alice", quick());
  auto& bob = w.add_session(w.net.add_host("bob", nat.inside(), addr("10.0.0.3"), w.link), "bob", quick());
  w.run([&]() -> asio::awaitable<void> {
    auto [ca, cb] = co_await connect_pair(alice, bob);
    BOOST_CHECK(ca.path() == path_kind::host);
    BOOST_CHECK_EQUAL(ca.remote_endpoint().address(), addr("10.0.0.3"));
    BOOST_CHECK_EQUAL(cb.remote_endpoint().address(), addr("10.0.0.2"));
  }());
}

BOOST_AUTO_TEST_CASE(ten_percent_loss_on_every_link_still_connects) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    BOOST_TEST_CONTEXT("seed " << seed) {
      sim_world w(seed, {5ms, 2ms, 0.10});
      auto o = quick();
      o.punch_timeout = 5s;
      o.request_timeout = 10s;  // registering takes three exchanges here (NONCE, discovery)
      auto& alice = w.add_session(w.add_peer_host("alice", "port-restricted-cone"), "alice", o);
      auto& bob = w.add_session(w.add_peer_host("bob", "restricted-cone"), "bob", o);
      w.run([&]() -> asio::awaitable<void> {
        co_await (alice.register_self() && bob.register_self());
        auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
        // Datagrams may be lost too: send until one arrives (bounded).
        std::string got;
        for (int i = 0; i < 20 && got.empty(); ++i) {
          co_await send_text(ca, "ping");
          punch::timer t(co_await asio::this_coro::executor, punch::test::world_clock(), 200ms);
          auto r = co_await (receive_text(cb) || t.async_wait(asio::use_awaitable));
          if (r.index() == 0) got = std::get<0>(r);
        }
        BOOST_CHECK_EQUAL(got, "ping");
      }());
    }
  }
}

BOOST_AUTO_TEST_CASE(close_ends_the_other_sides_receive_with_eof) {
  sim_world w;
  auto& alice = w.add_session(w.add_peer_host("alice", "full-cone"), "alice", quick());
  auto& bob = w.add_session(w.add_peer_host("bob", "port-restricted-cone"), "bob", quick());
  w.run([&]() -> asio::awaitable<void> {
    auto [ca, cb] = co_await connect_pair(alice, bob);
    co_await ca.close();
    BOOST_CHECK(!ca.is_open());
    BOOST_CHECK_EQUAL(co_await receive_ends_with(cb), error_code(asio::error::eof));
    BOOST_CHECK(!cb.is_open());
    // Sending into it says who closed it; our own side's operations say that we did.
    auto [sent] = co_await cb.send(asio::buffer("late", 4), asio::as_tuple(asio::use_awaitable));
    BOOST_CHECK_EQUAL(sent, make_error_code(errc::connection_closed));
    BOOST_CHECK_EQUAL(co_await receive_ends_with(ca), make_error_code(errc::closed_locally));
  }());
}

// UDP reorders: alice's close overtakes the datagram she sent just before it. bob still
// receives that datagram, then the close.
BOOST_AUTO_TEST_CASE(a_close_that_overtakes_the_last_datagram_still_delivers_it_first) {
  sim_world w;
  auto& alice_host = w.add_peer_host("alice", "full-cone");
  auto& bob = w.add_session(w.add_peer_host("bob", "port-restricted-cone"), "bob", quick());
  bool hold = false;
  std::optional<std::pair<std::vector<std::byte>, endpoint>> held;
  tap_transport* tap_ptr = nullptr;
  tap_transport tap(alice_host.transport(), [&](std::vector<std::byte>& d, const endpoint& to) {
    if (!hold || !wire::looks_like_frame(d)) return 1;
    if (wire::frame_kind_of(d) == wire::frame_kind::data && !held) {
      held.emplace(d, to);  // held back on the path
      return 0;
    }
    if (wire::frame_kind_of(d) == wire::frame_kind::close && held) {
      // The close goes first; the held datagram right after it.
      asio::post(w.ctx, [&, d = std::move(held->first), to = held->second]() mutable { tap_ptr->inject(std::move(d), to); });
      hold = false;
    }
    return 1;
  });
  tap_ptr = &tap;
  auto o = quick();
  o.broker = w.broker_endpoint();
  o.id = "alice";
  o.clock = &w.net.clock();
  session alice(tap, o);
  w.run([&]() -> asio::awaitable<void> {
    auto [ca, cb] = co_await connect_pair(alice, bob);
    hold = true;
    co_await send_text(ca, "last words");
    co_await ca.close();
    BOOST_CHECK_EQUAL(co_await receive_text(cb), "last words");
    BOOST_CHECK_EQUAL(co_await receive_ends_with(cb), error_code(asio::error::eof));
  }());
  BOOST_CHECK(!hold);  // the close did overtake the datagram
  alice.close();
}

// Without close(): the session closing, or the last handle being dropped, still tells the
// other side at once — long before its idle timeout (30 s by default) would.
BOOST_AUTO_TEST_CASE(a_closed_session_or_a_dropped_connection_tells_the_other_side_at_once) {
  sim_world w;
  auto& alice = w.add_session(w.add_peer_host("alice", "full-cone"), "alice", quick());
  auto& bob = w.add_session(w.add_peer_host("bob", "port-restricted-cone"), "bob", quick());
  auto& carol = w.add_session(w.add_peer_host("carol", "restricted-cone"), "carol", quick());
  w.run([&]() -> asio::awaitable<void> {
    {
      auto [ca, cb] = co_await connect_pair(alice, bob);
      const auto started = punch::test::world_clock().now();
      alice.close();
      BOOST_CHECK_EQUAL(co_await receive_ends_with(cb), error_code(asio::error::eof));
      // One trip across four 5 ms links: the close frame itself, not a timeout.
      BOOST_TEST(ms_since(started) == 20);
    }
    co_await carol.register_self();
    auto cb = co_await [&]() -> asio::awaitable<connection> {
      auto [cc, cb] = co_await (carol.connect("bob") && bob.accept());
      co_return cb;  // carol's only handle goes out of scope here
    }();
    const auto started = punch::test::world_clock().now();
    BOOST_CHECK_EQUAL(co_await receive_ends_with(cb), error_code(asio::error::eof));
    BOOST_TEST(ms_since(started) == 20);
  }());
}

// bob never calls accept(): the punched connection waits in his backlog. Closing his session
// closes it, tells alice, and frees it (LeakSanitizer watches the sanitizer run).
BOOST_AUTO_TEST_CASE(closing_a_session_closes_connections_nobody_accepted) {
  sim_world w;
  auto& alice = w.add_session(w.add_peer_host("alice", "full-cone"), "alice", quick());
  auto& bob = w.add_session(w.add_peer_host("bob", "full-cone"), "bob", quick());
  std::size_t connected = 0;
  asio::steady_timer bob_connected(w.ctx, asio::steady_timer::time_point::max());
  bob.on_event([&](const session_event& e) {
    if (e.what != session_event::kind::connected) return;
    ++connected;
    bob_connected.cancel();
  });
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    auto ca = co_await alice.connect("bob");
    if (connected == 0) co_await bob_connected.async_wait(asio::as_tuple(asio::use_awaitable));
    BOOST_CHECK_EQUAL(connected, 1u);  // punched on bob's side too, waiting for accept()
    bob.close();
    error_code ec;
    try {
      co_await receive_text(ca);
    } catch (const system_error& e) {
      ec = e.code();
    }
    BOOST_CHECK_EQUAL(ec, error_code(asio::error::eof));
  }());
}

BOOST_AUTO_TEST_CASE(lookup_of_an_unknown_id_fails_with_peer_not_found) {
  sim_world w;
  auto& alice = w.add_session(w.add_peer_host("alice", "none"), "alice", quick());
  w.run([&]() -> asio::awaitable<void> {
    co_await alice.register_self();
    auto self = co_await alice.lookup("alice");
    BOOST_CHECK_EQUAL(self.id, "alice");
    BOOST_CHECK_EQUAL(self.reflexive.address(), addr("198.51.100.11"));
    error_code ec;
    std::string what;
    try {
      co_await alice.lookup("nobody");
    } catch (const system_error& e) {
      ec = e.code();
      what = e.what();
    }
    BOOST_CHECK_EQUAL(ec, make_error_code(errc::peer_not_found));
    BOOST_CHECK(what.find("nobody") != std::string::npos);
    ec = {};
    try {
      co_await alice.connect("nobody");
    } catch (const system_error& e) {
      ec = e.code();
    }
    BOOST_CHECK_EQUAL(ec, make_error_code(errc::peer_not_found));
  }());
}

BOOST_AUTO_TEST_CASE(an_unreachable_broker_fails_with_broker_unreachable_within_the_deadline) {
  sim_world w;
  auto o = quick();
  o.request_timeout = 600ms;
  session_options opts = o;
  auto& h = w.add_peer_host("alice", "none");
  opts.broker = {addr("203.0.113.99"), 3478};
  opts.id = "alice";
  opts.clock = &w.net.clock();
  w.sessions.push_back(std::make_unique<session>(h.transport(), opts));
  auto& alice = *w.sessions.back();
  w.run([&]() -> asio::awaitable<void> {
    const auto started = punch::test::world_clock().now();
    error_code ec;
    try {
      co_await alice.register_self();
    } catch (const system_error& e) {
      ec = e.code();
    }
    const auto took = punch::test::world_clock().now() - started;
    BOOST_CHECK_EQUAL(ec, make_error_code(errc::broker_unreachable));
    // Exactly its deadline, in virtual time.
    BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(took).count() == 600);
  }());
}

BOOST_AUTO_TEST_CASE(an_invalid_id_is_rejected_before_anything_is_sent) {
  sim_world w;
  auto& alice = w.add_session(w.add_peer_host("alice", "none"), "bad id!", quick());
  w.run([&]() -> asio::awaitable<void> {
    error_code ec;
    try {
      co_await alice.register_self();
    } catch (const system_error& e) {
      ec = e.code();
    }
    BOOST_CHECK_EQUAL(ec, make_error_code(errc::invalid_peer_id));
  }());
}

BOOST_AUTO_TEST_CASE(a_broker_restart_keeps_established_connections_and_peers_reregister_and_connect_again) {
  sim_world w;
  auto o = quick();
  o.keepalive = 300ms;
  auto& alice = w.add_session(w.add_peer_host("alice", "port-restricted-cone"), "alice", o);
  auto& bob = w.add_session(w.add_peer_host("bob", "full-cone"), "bob", o);
  int refreshed_after_restart = 0;
  bool restarted = false;
  auto count = [&](const session_event& e) {
    if (restarted && e.what == session_event::kind::refreshed) ++refreshed_after_restart;
  };
  alice.on_event(count);
  bob.on_event(count);
  w.run([&]() -> asio::awaitable<void> {
    auto [old_a, old_b] = co_await connect_pair(alice, bob);
    w.restart_broker();
    restarted = true;
    BOOST_CHECK_EQUAL(w.current_registry().size(), 0u);
    // Wait one keepalive period (plus one round trip) for both refreshes.
    punch::timer t(co_await asio::this_coro::executor, punch::test::world_clock(), o.keepalive + 100ms);
    co_await t.async_wait(asio::use_awaitable);
    BOOST_CHECK_EQUAL(w.current_registry().size(), 2u);
    BOOST_CHECK_GE(refreshed_after_restart, 2);
    // The connection made before the restart is direct: the broker was never on its path.
    co_await send_text(old_a, "still here");
    BOOST_CHECK_EQUAL(co_await receive_text(old_b), "still here");
    BOOST_CHECK(old_a.is_open() && old_b.is_open());
    auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
    co_await send_text(ca, "again");
    BOOST_CHECK_EQUAL(co_await receive_text(cb), "again");
  }());
}

BOOST_AUTO_TEST_CASE(connect_right_after_a_broker_restart_registers_again_and_connects) {
  sim_world w;
  auto o = quick();
  o.keepalive = 60s;  // no refresh within the test: connect itself must notice
  auto& alice = w.add_session(w.add_peer_host("alice", "port-restricted-cone"), "alice", o);
  auto& bob = w.add_session(w.add_peer_host("bob", "full-cone"), "bob", o);
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    w.restart_broker();
    co_await bob.register_self();  // bob comes back first; alice's record is gone
    BOOST_CHECK_EQUAL(w.current_registry().size(), 1u);
    auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
    BOOST_CHECK_EQUAL(w.current_registry().size(), 2u);
    co_await send_text(ca, "after restart");
    BOOST_CHECK_EQUAL(co_await receive_text(cb), "after restart");
  }());
}

BOOST_AUTO_TEST_CASE(a_registration_expires_when_its_peer_stops_refreshing) {
  sim_world w;
  w.broker_opts.min_lifetime = std::chrono::seconds(1);
  w.restart_broker();
  auto o = quick();
  o.lifetime = std::chrono::seconds(1);
  o.keepalive = 10s;  // no refresh within the test
  auto& alice = w.add_session(w.add_peer_host("alice", "none"), "alice", o);
  auto& bob = w.add_session(w.add_peer_host("bob", "none"), "bob", quick());
  w.run([&]() -> asio::awaitable<void> {
    auto info = co_await alice.register_self();
    BOOST_CHECK_EQUAL(info.lifetime.count(), 1);
    co_await bob.register_self();
    BOOST_CHECK_EQUAL((co_await bob.lookup("alice")).id, "alice");
    punch::timer t(co_await asio::this_coro::executor, punch::test::world_clock(), 1100ms);
    co_await t.async_wait(asio::use_awaitable);
    error_code ec;
    try {
      co_await bob.lookup("alice");
    } catch (const system_error& e) {
      ec = e.code();
    }
    BOOST_CHECK_EQUAL(ec, make_error_code(errc::peer_not_found));
  }());
}

BOOST_AUTO_TEST_CASE(connect_can_be_cancelled_by_racing_it_against_a_timer) {
  sim_world w;
  auto& alice = w.add_session(w.add_peer_host("alice", "port-restricted-cone"), "alice", quick());
  auto& bob = w.add_session(w.add_peer_host("bob", "symmetric"), "bob", quick());
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    punch::timer t(co_await asio::this_coro::executor, punch::test::world_clock(), 200ms);
    const auto started = punch::test::world_clock().now();
    auto r = co_await (alice.connect("bob") || t.async_wait(asio::use_awaitable));
    BOOST_CHECK_EQUAL(r.index(), 1u);  // the timer won; connect was cancelled
    BOOST_TEST(ms_since(started) == 200);  // at once: nothing of connect lingered
  }());
}

BOOST_AUTO_TEST_CASE(a_check_with_a_wrong_token_is_ignored) {
  sim_world w;
  auto& bob_host = w.add_peer_host("bob", "none");
  auto& bob = w.add_session(bob_host, "bob", quick());
  auto& mallory_host = w.add_peer_host("mallory", "none");
  w.run([&]() -> asio::awaitable<void> {
    co_await bob.register_self();
    auto sock = mallory_host.transport().open({{}, 4000});
    std::array<std::byte, 128> buf;
    stun::transaction_id id{};
    id[0] = std::byte{7};
    stun::builder b(buf, stun::message_class::request, wire::method::binding, id);
    wire::token bogus{};
    b.add(wire::attr::token, bogus);
    auto msg = b.finish_with_fingerprint();
    co_await sock.async_send_to(asio::buffer(msg.data(), msg.size()), bob.local_endpoint(), asio::use_awaitable);
    std::array<std::byte, 256> in;
    endpoint from;
    punch::timer t(co_await asio::this_coro::executor, punch::test::world_clock(), 300ms);
    auto r = co_await (sock.async_receive_from(asio::buffer(in), from, asio::use_awaitable) ||
                       t.async_wait(asio::use_awaitable));
    BOOST_CHECK_EQUAL(r.index(), 1u);  // no answer to a check without a valid token
  }());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()  // session_sim_test
