// The path policy (session_options::path_policy) on the simulated network: direct_only never
// relays and says why it fails, relay_only never sends to the peer's own addresses, and
// adaptive moves to the relay under heavy loss on the direct path, back once it is clean,
// and neither flaps under steady moderate loss nor switches faster than its dwell time.
#include "session_test_support.hpp"
#include "sim_world.hpp"
#include "tap_transport.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <random>
#include <string>
#include <tuple>
#include <vector>

BOOST_AUTO_TEST_SUITE(path_policy_test)

using namespace punch;
using namespace punch::test;
using namespace boost::asio::experimental::awaitable_operators;
namespace asio = boost::asio;

namespace {

// The broker (both its ports) and the relay: everything else a peer sends goes to the other peer.
bool to_infrastructure(const endpoint& to) {
  return to.address() == addr("203.0.113.1") || to.address() == addr("203.0.113.2");
}

session_options with_mode(const sim_world& w, path_mode m) {
  auto o = w.with_relay();
  o.path_policy.mode = m;
  return o;
}

// Waits `d` of the world's time.
asio::awaitable<void> pause(std::chrono::milliseconds d) {
  punch::timer t(co_await asio::this_coro::executor, world_clock());
  t.expires_after(d);
  co_await t.async_wait(asio::use_awaitable);
}

// A session of `w` whose every datagram to the other peer (not to the broker or the relay)
// is lost with probability `loss` (seeded: the same drops every run); `sent_to_peer` counts
// those datagrams, lost or not.
struct lossy_peer {
  lossy_peer(sim_world& w, const std::string& id, session_options o, const double& loss)
      : host(w.add_peer_host(id, "port-restricted-cone")),
        tap(host.transport(), [this, &loss](std::vector<std::byte>&, const endpoint& to) {
          if (to_infrastructure(to)) return 1;
          ++sent_to_peer;
          return std::bernoulli_distribution(loss)(random) ? 0 : 1;
        }) {
    o.broker = w.broker_endpoint();
    o.id = id;
    o.clock = &w.net.clock();
    s.emplace(tap, o);
  }
  std::mt19937 random{7};
  std::size_t sent_to_peer = 0;
  sim::host& host;
  tap_transport tap;
  std::optional<session> s;
};

}  // namespace

BOOST_AUTO_TEST_CASE(direct_only_never_allocates_a_relay_and_fails_with_no_direct_path_between_two_symmetric_nats) {
  sim_world w;
  auto& relay = w.start_relay();
  auto o = with_mode(w, path_mode::direct_only);
  o.prediction.enabled = false;
  auto& alice = w.add_session(w.add_peer_host("alice", "symmetric"), "alice", o);
  auto& bob = w.add_session(w.add_peer_host("bob", "symmetric"), "bob", o);
  error_code bob_failed;
  bob.on_event([&](const session_event& e) {
    if (e.what == session_event::kind::punch_failed) bob_failed = e.error;
  });
  error_code ec;
  std::string message;
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    try {
      (void)co_await alice.connect("bob");
    } catch (const system_error& e) {
      ec = e.code();
      message = e.what();
    }
    co_await pause(1s);  // bob's punch ends too
  }());
  BOOST_CHECK_EQUAL(ec, make_error_code(errc::no_direct_path));
  BOOST_CHECK_MESSAGE(message.find("forbids a relay") != std::string::npos, message);
  BOOST_CHECK_EQUAL(bob_failed, make_error_code(errc::no_direct_path));
  // Two symmetric NATs go to the relay at once under `any`: here nothing ever reached it.
  BOOST_CHECK_EQUAL(relay.stats().allocations, 0u);
  BOOST_CHECK_EQUAL(relay.stats().received, 0u);
}

BOOST_AUTO_TEST_CASE(relay_only_sends_nothing_to_the_peers_own_addresses_and_connects_through_the_relay) {
  sim_world w;
  auto& relay = w.start_relay();
  const double no_loss = 0.0;
  // Two NATs that punch at once under `any`; bob keeps the default policy and punches toward
  // alice, who never answers from her own address.
  lossy_peer alice(w, "alice", with_mode(w, path_mode::relay_only), no_loss);
  auto& bob = w.add_session(w.add_peer_host("bob", "port-restricted-cone"), "bob", w.with_relay());
  int alice_changes = 0;
  alice.s->on_event([&](const session_event& e) {
    if (e.what == session_event::kind::path_changed) ++alice_changes;
  });
  path_kind alice_path{}, bob_path{};
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.s->register_self() && bob.register_self());
    auto both = co_await (alice.s->connect("bob") && bob.accept());
    auto& ca = std::get<0>(both);
    auto& cb = std::get<1>(both);
    for (int i = 0; i < 20; ++i) {  // a while of traffic: no upgrade to a direct path either
      co_await send_text(ca, "to bob " + std::to_string(i));
      BOOST_CHECK_EQUAL(co_await receive_text(cb), "to bob " + std::to_string(i));
      co_await send_text(cb, "to alice");
      BOOST_CHECK_EQUAL(co_await receive_text(ca), "to alice");
      co_await pause(250ms);
    }
    alice_path = ca.path();
    bob_path = cb.path();
  }());
  BOOST_CHECK_EQUAL(alice.sent_to_peer, 0u);
  BOOST_CHECK(alice_path == path_kind::relay);
  BOOST_CHECK(bob_path == path_kind::relay);
  BOOST_CHECK_EQUAL(alice_changes, 0);
  BOOST_CHECK_EQUAL(relay.stats().pairs, 1u);
  BOOST_CHECK_GT(relay.stats().forwarded, 40u);
}

BOOST_AUTO_TEST_CASE(relay_only_without_a_relay_fails_with_no_relayed_path) {
  sim_world w;
  const double no_loss = 0.0;
  auto o = quick();
  o.path_policy.mode = path_mode::relay_only;
  lossy_peer alice(w, "alice", o, no_loss);
  auto& bob = w.add_session(w.add_peer_host("bob", "full-cone"), "bob", quick());
  error_code ec;
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.s->register_self() && bob.register_self());
    auto [e, c] = co_await alice.s->connect("bob", asio::as_tuple(asio::use_awaitable));
    ec = e;
  }());
  BOOST_CHECK_EQUAL(ec, make_error_code(errc::no_relayed_path));
  BOOST_CHECK_EQUAL(alice.sent_to_peer, 0u);
}

BOOST_AUTO_TEST_CASE(adaptive_moves_to_the_relay_under_heavy_loss_on_the_direct_path_and_back_once_it_is_clean) {
  sim_world w;
  w.start_relay();
  double loss = 0.0;
  const auto o = with_mode(w, path_mode::adaptive);
  lossy_peer alice(w, "alice", o, loss);
  auto& bob = w.add_session(w.add_peer_host("bob", "port-restricted-cone"), "bob", o);
  std::vector<session_event> alice_changes, bob_changes;
  std::vector<punch::clock::time_point> alice_change_times;
  alice.s->on_event([&](const session_event& e) {
    if (e.what != session_event::kind::path_changed) return;
    alice_changes.push_back(e);
    alice_change_times.push_back(world_clock().now());
  });
  bob.on_event([&](const session_event& e) {
    if (e.what == session_event::kind::path_changed) bob_changes.push_back(e);
  });
  path_kind at_start{}, under_loss{}, at_end{};
  punch::clock::time_point loss_starts{}, loss_stops{};
  const auto& p = o.path_policy;
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.s->register_self() && bob.register_self());
    auto both = co_await (alice.s->connect("bob") && bob.accept());
    auto& ca = std::get<0>(both);
    auto& cb = std::get<1>(both);
    at_start = ca.path();
    co_await pause(5s);
    loss = 0.5;  // heavy loss on alice's side of the direct path
    loss_starts = world_clock().now();
    co_await pause(40s);
    under_loss = ca.path();
    co_await send_text(ca, "through the relay");
    BOOST_CHECK_EQUAL(co_await receive_text(cb), "through the relay");
    loss = 0.0;
    loss_stops = world_clock().now();
    co_await pause(45s);
    at_end = ca.path();
    co_await send_text(ca, "direct again");
    BOOST_CHECK_EQUAL(co_await receive_text(cb), "direct again");
  }(), 120s);
  BOOST_CHECK(at_start != path_kind::relay);
  BOOST_CHECK(under_loss == path_kind::relay);
  BOOST_CHECK(at_end != path_kind::relay);
  BOOST_REQUIRE_EQUAL(alice_changes.size(), 2u);
  BOOST_CHECK(alice_changes[0].path == path_kind::relay);
  BOOST_CHECK_MESSAGE(alice_changes[0].detail.find("lost") != std::string::npos, alice_changes[0].detail);
  BOOST_CHECK(alice_changes[1].path != path_kind::relay);
  BOOST_CHECK_MESSAGE(alice_changes[1].detail.find("clean") != std::string::npos, alice_changes[1].detail);
  // Back no sooner than the direct path was clean for clean_for (its window emptied of lost
  // probes first).
  BOOST_CHECK(alice_change_times[0] > loss_starts);
  BOOST_CHECK(alice_change_times[1] - loss_stops >= p.clean_for);
  BOOST_REQUIRE_EQUAL(bob_changes.size(), 2u);
  BOOST_CHECK(bob_changes[0].path == path_kind::relay);
  BOOST_CHECK(bob_changes[1].path != path_kind::relay);
  BOOST_CHECK_GT(alice.s->stats().loss_probes_lost, 0u);
}

BOOST_AUTO_TEST_CASE(adaptive_does_not_flap_under_steady_moderate_loss_between_its_thresholds) {
  sim_world w;
  w.start_relay();
  const double loss = 0.06;  // above clean_below (2%), below loss_above (15%)
  const auto o = with_mode(w, path_mode::adaptive);
  lossy_peer alice(w, "alice", o, loss);
  auto& bob = w.add_session(w.add_peer_host("bob", "port-restricted-cone"), "bob", o);
  int changes = 0;
  alice.s->on_event([&](const session_event& e) {
    if (e.what == session_event::kind::path_changed) ++changes;
  });
  bob.on_event([&](const session_event& e) {
    if (e.what == session_event::kind::path_changed) ++changes;
  });
  path_kind at_end{};
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.s->register_self() && bob.register_self());
    auto both = co_await (alice.s->connect("bob") && bob.accept());
    co_await pause(600s);
    at_end = std::get<0>(both).path();
  }(), 700s);
  BOOST_CHECK_EQUAL(changes, 0);
  BOOST_CHECK(at_end != path_kind::relay);
  // The policy was measuring all along, and saw the loss that it put up with.
  const auto& s = alice.s->stats();
  BOOST_CHECK_GT(s.loss_probes_sent, 2500u);
  const double measured = static_cast<double>(s.loss_probes_lost) / static_cast<double>(s.loss_probes_sent);
  BOOST_TEST_MESSAGE("measured loss " << measured);
  BOOST_CHECK_GT(measured, o.path_policy.clean_below);
  BOOST_CHECK_LT(measured, o.path_policy.loss_above);
}

BOOST_AUTO_TEST_CASE(adaptive_switches_no_faster_than_its_dwell_time_when_loss_comes_and_goes) {
  sim_world w;
  w.start_relay();
  double loss = 0.0;
  auto o = with_mode(w, path_mode::adaptive);
  o.path_policy.clean_for = 5s;  // short, so that the dwell time is what holds it
  lossy_peer alice(w, "alice", o, loss);
  auto& bob = w.add_session(w.add_peer_host("bob", "port-restricted-cone"), "bob", o);
  std::vector<punch::clock::time_point> times;
  alice.s->on_event([&](const session_event& e) {
    if (e.what == session_event::kind::path_changed) times.push_back(world_clock().now());
  });
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.s->register_self() && bob.register_self());
    auto both = co_await (alice.s->connect("bob") && bob.accept());
    for (int i = 0; i < 30; ++i) {  // 20 s of heavy loss, 20 s clean, for 10 minutes
      loss = i % 2 == 0 ? 0.6 : 0.0;
      co_await pause(20s);
    }
    (void)both;
  }(), 700s);
  BOOST_CHECK_GE(times.size(), 2u);  // it does move, both ways
  for (std::size_t i = 1; i < times.size(); ++i)
    BOOST_CHECK(times[i] - times[i - 1] >= o.path_policy.min_dwell);
}

BOOST_AUTO_TEST_CASE(path_modes_read_back_from_their_names_and_unknown_names_are_refused) {
  for (auto m : {path_mode::any, path_mode::direct_only, path_mode::relay_only, path_mode::adaptive})
    BOOST_CHECK(parse_path_mode(to_string(m)) == m);
  BOOST_CHECK(!parse_path_mode("direct_only").has_value());
  BOOST_CHECK(!parse_path_mode("").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
