// Sessions relaying through a real coturn on loopback (ring: real): with long-term credentials
// and with TURN REST credentials, two peers whose direct datagrams are all dropped connect
// through alice's TURN allocation and exchange data both ways; with a wrong password the
// allocation fails with errc::turn_unauthorized, registration still succeeds, and nothing hangs.
// Without turnserver on PATH each test reports SKIPPED with the reason.
#include "coturn.hpp"
#include "tap_transport.hpp"
#include "turn_test_support.hpp"

#include "punch/broker.hpp"
#include "punch/clock.hpp"
#include "punch/connection.hpp"
#include "punch/plugins/udp.hpp"
#include "punch/registry.hpp"
#include "punch/session.hpp"
#include "punch/turn.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <exception>
#include <iostream>
#include <string_view>

namespace asio = boost::asio;
using namespace punch;
using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

using test::loopback;

bool skipped() {
  if (auto why = test::coturn::unavailable()) {
    std::cout << "SKIPPED: " << *why << std::endl;
    return true;
  }
  return false;
}

struct outcome {
  bool done = false;
  std::string alice_got, bob_got;
  path_kind alice_path = path_kind::host, bob_path = path_kind::host;
  std::vector<session_event> alice_events;
  std::size_t direct_dropped = 0;  // datagrams between the peers' own sockets, dropped
  std::chrono::milliseconds connect_time{0};  // connect() to connected (relay_after is 200 ms)
  std::exception_ptr failure;
};

bool has_event(const outcome& o, session_event::kind k) {
  for (const auto& e : o.alice_events)
    if (e.what == k) return true;
  return false;
}

// alice (with `turn`) connects to bob; every datagram between the two peers' own sockets is
// dropped, so only the path through the TURN server can carry the connection.
// With `then_unblock`, direct datagrams pass once the data went both ways: the relayed
// connection must then move to a direct path (path_changed), as punch-relay's does.
outcome relay_through(const test::coturn& server, turn_server turn, bool then_unblock = false) {
  test::loopback_broker w;
  auto& ctx = w.ctx;
  // The peers' own sockets (known once the sessions exist): nothing reaches them directly.
  std::vector<endpoint> peers;
  std::size_t dropped = 0;
  bool blocking = true;
  test::tap_transport tap(*w.udp, [&](std::vector<std::byte>&, const endpoint& to) {
    const bool to_peer = blocking && std::find(peers.begin(), peers.end(), to) != peers.end();
    if (to_peer) ++dropped;
    return to_peer ? 0 : 1;
  });

  auto oa = w.options("alice"), ob = w.options("bob");
  for (auto* o : {&oa, &ob}) {
    o->relay_after = 200ms;
    o->punch_timeout = 8s;
  }
  turn.address = endpoint{loopback, server.port()};
  oa.turn_servers = {turn};
  outcome out;
  punch::timer upgraded(ctx.get_executor()), allocated(ctx.get_executor());
  session alice(tap, oa), bob(tap, ob);
  peers = {alice.local_endpoint(), bob.local_endpoint()};
  alice.on_event([&](const session_event& e) {
    out.alice_events.push_back(e);
    if (e.what == session_event::kind::path_changed && e.path != path_kind::relay) upgraded.cancel();
    if (e.what == session_event::kind::turn_allocated || e.what == session_event::kind::turn_failed) allocated.cancel();
  });
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        co_await (alice.register_self() && bob.register_self());
        // The allocation is made beside the registration and announced after it: bob learns
        // alice's relayed address from the broker only once she reports it.
        if (!has_event(out, session_event::kind::turn_allocated) && !has_event(out, session_event::kind::turn_failed)) {
          allocated.expires_after(5s);
          co_await allocated.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        const auto asked = std::chrono::steady_clock::now();
        auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
        out.connect_time = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - asked);
        std::array<char, 64> buf{};
        co_await ca.send(asio::buffer(std::string_view("hello bob, via coturn")));
        out.bob_got.assign(buf.data(), co_await cb.receive(asio::buffer(buf)));
        co_await cb.send(asio::buffer(std::string_view("hello alice")));
        out.alice_got.assign(buf.data(), co_await ca.receive(asio::buffer(buf)));
        out.alice_path = ca.path();
        out.bob_path = cb.path();
        if (then_unblock) {
          blocking = false;
          upgraded.expires_after(10s);
          co_await upgraded.async_wait(asio::as_tuple(asio::use_awaitable));
          co_await ca.send(asio::buffer(std::string_view("direct now")));
          out.bob_got.assign(buf.data(), co_await cb.receive(asio::buffer(buf)));
          out.alice_path = ca.path();
          out.bob_path = cb.path();
        }
        co_await (ca.close() && cb.close());
        alice.close();
        bob.close();
        w.socket.close();
      },
      [&](std::exception_ptr e) {
        out.failure = e;
        out.done = true;
        ctx.stop();
      });
  ctx.run_for(20s);
  out.direct_dropped = dropped;
  BOOST_TEST_MESSAGE("connected through coturn in " << out.connect_time.count() << " ms (relay_after 200 ms)");
  return out;
}

// Both sides sent and received through alice's allocation, on a path both call relayed, while
// their direct datagrams were dropped.
void expect_relayed_exchange(const outcome& out) {
  BOOST_TEST_REQUIRE(out.done);
  if (out.failure) std::rethrow_exception(out.failure);
  BOOST_TEST(has_event(out, session_event::kind::turn_allocated));
  BOOST_TEST(out.bob_got == "hello bob, via coturn");
  BOOST_TEST(out.alice_got == "hello alice");
  BOOST_TEST(to_string(out.alice_path) == "relay");
  BOOST_TEST(to_string(out.bob_path) == "relay");
  BOOST_TEST(out.direct_dropped > 0u);  // the peers did try each other directly
}

}  // namespace

BOOST_AUTO_TEST_SUITE(turn_coturn)

BOOST_AUTO_TEST_CASE(peers_whose_direct_paths_are_blocked_talk_through_coturn_with_long_term_credentials) {
  if (skipped()) return;
  test::coturn server({"--lt-cred-mech", "--user", "alice:wonderland"});
  turn_server t;
  t.user = "alice";
  t.password = "wonderland";
  expect_relayed_exchange(relay_through(server, t));
}

BOOST_AUTO_TEST_CASE(peers_talk_through_coturn_with_rest_credentials_from_a_shared_secret) {
  if (skipped()) return;
  test::coturn server({"--use-auth-secret", "--static-auth-secret", "north-secret"});
  turn_server t;
  t.kind = turn_server::credentials_kind::rest;
  t.user = "alice";
  t.password = "north-secret";
  t.rest_ttl = 600s;
  expect_relayed_exchange(relay_through(server, t));
}

BOOST_AUTO_TEST_CASE(a_wrong_password_fails_the_allocation_with_turn_unauthorized_and_registration_goes_on) {
  if (skipped()) return;
  test::coturn server({"--lt-cred-mech", "--user", "alice:wonderland"});
  test::loopback_broker w;
  turn_server wrong;
  wrong.address = endpoint{loopback, server.port()};
  wrong.user = "alice";
  wrong.password = "looking-glass";
  const auto r = test::register_alice(w, {wrong}, 5s);
  BOOST_TEST(r.registered);
  BOOST_TEST(r.failed == make_error_code(errc::turn_unauthorized), r.failed.message());
  BOOST_TEST(!r.allocated);
}

BOOST_AUTO_TEST_CASE(a_connection_through_coturn_moves_to_a_direct_path_when_one_opens) {
  if (skipped()) return;
  test::coturn server({"--lt-cred-mech", "--user", "alice:wonderland"});
  turn_server t;
  t.user = "alice";
  t.password = "wonderland";
  const auto out = relay_through(server, t, true);
  BOOST_TEST_REQUIRE(out.done);
  if (out.failure) std::rethrow_exception(out.failure);
  BOOST_TEST(out.bob_got == "direct now");
  BOOST_TEST(to_string(out.alice_path) != "relay");
  BOOST_TEST(to_string(out.bob_path) != "relay");
}

BOOST_AUTO_TEST_CASE(a_silent_turn_server_fails_with_turn_unreachable_within_the_registration_timeout) {
  test::loopback_broker w;
  auto silent = w.udp->open(endpoint{loopback, 0});  // bound, never read: a TURN server that died
  turn_server dead;
  dead.address = silent.local_endpoint();
  dead.user = "alice";
  dead.password = "wonderland";
  const auto r = test::register_alice(w, {dead}, 1s);
  BOOST_TEST(r.registered);
  BOOST_TEST(r.failed == make_error_code(errc::turn_unreachable), r.failed.message());
}

BOOST_AUTO_TEST_SUITE_END()
