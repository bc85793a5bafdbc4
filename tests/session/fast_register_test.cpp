// register_self() in one broker round trip (ring: sim; docs/protocol.md, "TIMESTAMP";
// docs/performance.md, "Registration time"): with 120 ms to the broker, a session is
// registered one round trip after it starts, its NAT measured beside that; a peer whose clock
// is minutes off, and any peer while the broker is in cookie mode, registers over the NONCE,
// one round trip later. Times are read on the simulated network's clock.
#include "session_test_support.hpp"
#include "sim_world.hpp"

BOOST_AUTO_TEST_SUITE(fast_register_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace punch;
using namespace punch::test;

namespace {

// 120 ms to the broker and back: 30 ms on each of the four links a round trip crosses from a
// host on the internet ("none"), 20 ms on each of the six from a host behind a NAT.
const sim::link far{std::chrono::milliseconds(30), {}, 0.0};
const sim::link far_behind_nat{std::chrono::milliseconds(20), {}, 0.0};

struct timing {
  long long registered_ms = -1;  // register_self(), from its call to its completion
  long long rtt_ms = -1;         // one Lookup: a broker round trip on the same path
};

// Registers `s`, then measures a round trip to the broker with a Lookup of itself.
timing time_registration(sim_world& w, session& s) {
  timing t;
  w.run([&]() -> asio::awaitable<void> {
    const auto start = world_clock().now();
    co_await s.register_self();
    t.registered_ms = ms_since(start);
    const auto asked = world_clock().now();
    co_await s.lookup(s.options().id);
    t.rtt_ms = ms_since(asked);
  }());
  BOOST_TEST_MESSAGE("registered after " << t.registered_ms << " ms; broker round trip " << t.rtt_ms << " ms");
  return t;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_session_is_registered_within_1_1_broker_round_trips_and_measures_its_nat_beside) {
  nat_mapping told = nat_mapping::unknown;  // before the world, whose sessions report to it until they close
  sim_world w(1, far_behind_nat);
  auto& alice = w.add_session(w.add_peer_host("alice", "port-restricted-cone"), "alice");
  alice.on_event([&](const session_event& e) {
    if (e.what == session_event::kind::refreshed) told = e.nat;
  });
  const timing t = time_registration(w, alice);
  BOOST_TEST(t.rtt_ms == 120);
  BOOST_TEST(t.registered_ms * 10 <= t.rtt_ms * 11, t.registered_ms << " ms is over 1.1 round trips");
  BOOST_TEST(w.current_broker().stats().first_datagram == 1u);
  BOOST_TEST(w.current_broker().stats().challenges == 0u);
  // The Binding to the second port and the refresh that tells the broker, after it.
  w.settle(std::chrono::seconds(2));
  BOOST_TEST(to_string(told) == to_string(nat_mapping::endpoint_independent));
  registration_record r;
  BOOST_TEST_REQUIRE(w.current_registry().find("alice", world_clock().now(), r));
  BOOST_TEST(r.nat == static_cast<std::uint8_t>(nat_mapping::endpoint_independent));
}

BOOST_AUTO_TEST_CASE(a_peer_whose_clock_is_minutes_off_registers_over_the_nonce_one_round_trip_later) {
  for (const auto off : {std::chrono::minutes(-7), std::chrono::minutes(3)}) {
    BOOST_TEST_CONTEXT("clock off by " << off.count() << " min") {
      sim_world w(1, far);
      session_options o;
      o.wall_clock_offset = off;
      auto& alice = w.add_session(w.add_peer_host("alice", "none"), "alice", o);
      const timing t = time_registration(w, alice);
      BOOST_TEST(t.registered_ms * 10 > t.rtt_ms * 11, "registered too soon for a refused TIMESTAMP");
      BOOST_TEST(t.registered_ms * 10 <= t.rtt_ms * 21);
      BOOST_TEST(w.current_broker().stats().stale_timestamps == 1u);
      BOOST_TEST(w.current_broker().stats().first_datagram == 0u);
      BOOST_TEST(w.current_broker().stats().registrations == 1u);
    }
  }
}

BOOST_AUTO_TEST_CASE(in_cookie_mode_a_register_gets_the_challenge_first_and_still_registers) {
  sim_world w(1, far);
  w.broker_opts.cookie_threshold = 0;  // busy at any load
  w.restart_broker();
  auto& alice = w.add_session(w.add_peer_host("alice", "none"), "alice");
  const timing t = time_registration(w, alice);
  BOOST_TEST(t.registered_ms * 10 <= t.rtt_ms * 21);
  BOOST_TEST(w.current_broker().stats().cookie_challenges == 1u);
  BOOST_TEST(w.current_broker().stats().signatures_verified == 1u);
  BOOST_TEST(w.current_broker().stats().registrations == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
