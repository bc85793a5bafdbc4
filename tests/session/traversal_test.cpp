// Every pair connects (issue 5) on the simulated network: directly where hole punching can
// work, through the relay where it cannot, and every pair directly when one side's router
// maps a port (issue 17); a relayed connection moves to a direct path that opens later
// without losing or reordering what is sent meanwhile.
#include "home_router.hpp"
#include "session_test_support.hpp"
#include "sim_world.hpp"
#include "tap_transport.hpp"

#include "punch/wire/protocol.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

BOOST_AUTO_TEST_SUITE(traversal_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace punch;
using namespace punch::test;
using namespace boost::asio::experimental::awaitable_operators;
namespace asio = boost::asio;

BOOST_AUTO_TEST_SUITE(traversal_on_simulated_network)

BOOST_AUTO_TEST_CASE(all_25_ordered_nat_pairs_connect_directly_by_punching_or_port_prediction_and_only_two_symmetric_nats_through_the_relay) {
  for (const char* a : nat_types) {
    for (const char* b : nat_types) {
      BOOST_TEST_CONTEXT("alice behind " << a << ", bob behind " << b) {
        sim_world w;
        auto& relay = w.start_relay();
        auto& alice = w.add_session(w.add_peer_host("alice", a), "alice", w.with_relay());
        auto& bob = w.add_session(w.add_peer_host("bob", b), "bob", w.with_relay());
        path_kind alice_path{}, bob_path{};
        w.run([&]() -> asio::awaitable<void> {
          co_await (alice.register_self() && bob.register_self());
          auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
          co_await send_text(ca, "hello bob");
          BOOST_CHECK_EQUAL(co_await receive_text(cb), "hello bob");
          co_await send_text(cb, "hello alice");
          BOOST_CHECK_EQUAL(co_await receive_text(ca), "hello alice");
          alice_path = ca.path();
          bob_path = cb.path();
        }());
        const bool direct = connects_directly(a, b);
        BOOST_CHECK_EQUAL(alice_path == path_kind::relay, !direct);
        BOOST_CHECK_EQUAL(bob_path == path_kind::relay, !direct);
        // Symmetric↔port-restricted: port prediction's path, on both sides.
        BOOST_CHECK_EQUAL(alice_path == path_kind::predicted, predictable(a, b));
        BOOST_CHECK_EQUAL(bob_path == path_kind::predicted, predictable(a, b));
        // Punchable pairs answer within relay_after: they never allocate.
        BOOST_CHECK_EQUAL(relay.stats().pairs, direct ? 0u : 1u);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(all_25_ordered_nat_pairs_connect_directly_without_the_relay_when_one_side_s_router_maps_a_port) {
  const char* const protocols[] = {"pcp", "natpmp", "upnp"};
  std::set<std::string> granted_by;
  int pair = 0;
  for (const char* a : nat_types) {
    for (const char* b : nat_types) {
      // The mapping side alternates, and must be behind a NAT; the protocol goes round.
      const bool alice_maps = std::string_view(b) == "none" || (pair % 2 == 0 && std::string_view(a) != "none");
      const bool any_nat = std::string_view(a) != "none" || std::string_view(b) != "none";
      const std::string protocol = protocols[pair++ % 3];
      BOOST_TEST_CONTEXT("alice behind " << a << ", bob behind " << b << ", " << (alice_maps ? "alice" : "bob")
                                         << "'s router offering " << protocol) {
        sim_world w;
        std::vector<session_event> granted;
        auto& relay = w.start_relay();
        auto& alice_host = w.add_peer_host("alice", a);
        auto& bob_host = w.add_peer_host("bob", b);
        const std::string mapper = alice_maps ? "alice" : "bob";
        std::optional<home_router> router;
        if (any_nat) router.emplace(w.net, *w.net.find_nat("nat-" + mapper), offering(protocol));
        const auto options_of = [&](const std::string& who) {
          return who == mapper && any_nat ? home_router::asked_by(w.with_relay()) : w.with_relay();
        };
        auto& alice = w.add_session(alice_host, "alice", options_of("alice"));
        auto& bob = w.add_session(bob_host, "bob", options_of("bob"));
        (alice_maps ? alice : bob).on_event([&granted](const session_event& e) {
          if (e.what == session_event::kind::port_mapped) granted.push_back(e);
        });
        path_kind alice_path{}, bob_path{};
        w.run([&]() -> asio::awaitable<void> {
          co_await (alice.register_self() && bob.register_self());
          while (any_nat && granted.empty()) co_await w.pause(100ms);
          auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
          co_await send_text(ca, "hello bob");
          BOOST_CHECK_EQUAL(co_await receive_text(cb), "hello bob");
          alice_path = ca.path();
          bob_path = cb.path();
        }());
        if (any_nat) {
          BOOST_REQUIRE_EQUAL(granted.size(), 1u);
          BOOST_CHECK(!granted.front().error);
          BOOST_CHECK_EQUAL(granted.front().detail, protocol);
          granted_by.insert(granted.front().detail);
        }
        BOOST_CHECK(alice_path != path_kind::relay);
        BOOST_CHECK(bob_path != path_kind::relay);
        // Where punching alone could not open a path, the mapping did.
        if (!connects_directly(a, b))
          BOOST_CHECK(alice_path == path_kind::mapped || bob_path == path_kind::mapped);
        BOOST_CHECK_EQUAL(relay.stats().pairs, 0u);  // no relay allocation
      }
    }
  }
  BOOST_CHECK_EQUAL(granted_by.size(), 3u);  // each protocol granted somewhere in the matrix
}

BOOST_AUTO_TEST_CASE(a_relayed_connection_moves_to_a_direct_path_that_opens_later_losing_and_reordering_nothing) {
  sim_world w;
  w.start_relay();
  auto& alice_host = w.add_peer_host("alice", "port-restricted-cone");
  auto& bob = w.add_session(w.add_peer_host("bob", "port-restricted-cone"), "bob", w.with_relay());
  // A firewall on alice's side that lets only the broker and the relay through, until opened.
  bool direct_blocked = true;
  tap_transport tap(alice_host.transport(), firewall(direct_blocked, {w.broker_endpoint(), w.relay_endpoint()}));
  auto o = w.with_relay();
  o.broker = w.broker_endpoint();
  o.id = "alice";
  o.clock = &w.net.clock();
  session alice(tap, o);
  std::vector<session_event> alice_changes, bob_changes;
  alice.on_event([&](const session_event& e) {
    if (e.what == session_event::kind::path_changed) alice_changes.push_back(e);
  });
  bob.on_event([&](const session_event& e) {
    if (e.what == session_event::kind::path_changed) bob_changes.push_back(e);
  });
  constexpr int messages = 60;
  std::vector<int> received;
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    auto both = co_await (alice.connect("bob") && bob.accept());
    // Named references, not a structured binding: clang 14 (the sanitizer build) cannot
    // capture a binding in a lambda.
    auto& ca = std::get<0>(both);
    auto& cb = std::get<1>(both);
    BOOST_REQUIRE(ca.path() == path_kind::relay);
    auto sender = [&]() -> asio::awaitable<void> {
      punch::timer t(co_await asio::this_coro::executor, punch::test::world_clock());
      for (int i = 0; i < messages; ++i) {
        if (i == 10) direct_blocked = false;  // the direct path opens while data flows
        co_await send_text(ca, std::to_string(i));
        t.expires_after(20ms);
        co_await t.async_wait(asio::use_awaitable);
      }
    };
    auto receiver = [&]() -> asio::awaitable<void> {
      while (received.size() < messages) received.push_back(std::stoi(co_await receive_text(cb)));
    };
    co_await (sender() && receiver());
    BOOST_CHECK(ca.path() != path_kind::relay);
    BOOST_CHECK(cb.path() != path_kind::relay);
  }());
  // Every datagram arrived once, in the order sent, across the switch.
  std::vector<int> expected(messages);
  for (int i = 0; i < messages; ++i) expected[static_cast<std::size_t>(i)] = i;
  BOOST_CHECK_EQUAL_COLLECTIONS(received.begin(), received.end(), expected.begin(), expected.end());
  BOOST_REQUIRE_EQUAL(alice_changes.size(), 1u);
  BOOST_CHECK(alice_changes[0].path != path_kind::relay);
  BOOST_CHECK_EQUAL(bob_changes.size(), 1u);
  alice.close();
}

BOOST_AUTO_TEST_CASE(each_session_learns_whether_its_nat_is_easy_or_hard_and_so_does_its_peer) {
  for (const char* type : nat_types) {
    BOOST_TEST_CONTEXT("behind " << type) {
      sim_world w;
      auto& me = w.add_session(w.add_peer_host("me", type), "me", w.with_relay());
      auto& other = w.add_session(w.add_peer_host("other", "full-cone"), "other", w.with_relay());
      nat_mapping seen_by_other = nat_mapping::unknown;
      other.on_event([&](const session_event& e) {
        if (e.what == session_event::kind::connected) seen_by_other = e.nat;
      });
      // Measured beside the registration: the refresh that tells the broker reports it.
      nat_mapping mine = nat_mapping::unknown;
      me.on_event([&](const session_event& e) {
        if (e.what == session_event::kind::refreshed) mine = e.nat;
      });
      w.run([&]() -> asio::awaitable<void> {
        co_await (me.register_self() && other.register_self());
        co_await (me.connect("other") && other.accept());
      }());
      const auto expected = std::string_view(type) == "symmetric" ? nat_mapping::endpoint_dependent
                                                                  : nat_mapping::endpoint_independent;
      BOOST_CHECK_EQUAL(to_string(mine), to_string(expected));
      BOOST_CHECK_EQUAL(to_string(seen_by_other), to_string(expected));
      // Telling the broker what discovery measured rides on the refresh credential: one
      // signature per session start, not two.
      BOOST_CHECK_EQUAL(w.current_broker().stats().signatures_verified, 2u);
      BOOST_CHECK_EQUAL(w.current_broker().stats().refreshes, 2u);
    }
  }
}

BOOST_AUTO_TEST_CASE(two_hard_nats_go_to_the_relay_at_once_instead_of_after_relay_after) {
  sim_world w;
  w.start_relay();
  auto o = w.with_relay();
  o.relay_after = 3s;  // far beyond what the relay needs
  auto& alice = w.add_session(w.add_peer_host("alice", "symmetric"), "alice", o);
  auto& bob = w.add_session(w.add_peer_host("bob", "symmetric"), "bob", o);
  std::chrono::milliseconds took{};
  alice.on_event([&](const session_event& e) {
    if (e.what == session_event::kind::connected) took = e.elapsed;
  });
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
    BOOST_CHECK(ca.path() == path_kind::relay);
  }());
  BOOST_CHECK_LT(took.count(), 1000);
}

BOOST_AUTO_TEST_CASE(without_a_relay_the_unpunchable_pairs_still_time_out) {
  sim_world w;
  session_options o;
  o.punch_timeout = 1500ms;
  auto& alice = w.add_session(w.add_peer_host("alice", "symmetric"), "alice", o);
  auto& bob = w.add_session(w.add_peer_host("bob", "symmetric"), "bob", o);
  error_code ec;
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    try {
      co_await alice.connect("bob");
    } catch (const system_error& e) {
      ec = e.code();
    }
  }());
  BOOST_CHECK_EQUAL(ec, make_error_code(errc::punch_timeout));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()  // traversal_test
