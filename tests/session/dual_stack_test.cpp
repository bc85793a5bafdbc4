// IPv4 and IPv6 (issue 13): a dual-stack session announces host candidates of both families,
// registers over both at a dual-stack broker (which records a reflexive address per family),
// tries pairs of both families and prefers IPv6, which behind the usual stateful firewall needs
// no NAT traversal at all; IPv4 still carries the pairs that have no IPv6 in common.
#include "session_test_support.hpp"
#include "sim_world.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <string>

BOOST_AUTO_TEST_SUITE(dual_stack_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace punch;
using namespace punch::test;
using namespace boost::asio::experimental::awaitable_operators;
namespace asio = boost::asio;

namespace {

struct outcome {
  endpoint alice_remote, bob_remote;
  path_kind alice_path{};
  registration_info alice_reg, bob_reg;
};

outcome connect_and_talk(sim_world& w, session& alice, session& bob) {
  outcome o;
  w.run([&]() -> asio::awaitable<void> {
    auto [ra, rb] = co_await (alice.register_self() && bob.register_self());
    o.alice_reg = ra;
    o.bob_reg = rb;
    auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
    co_await send_text(ca, "hello bob");
    BOOST_CHECK_EQUAL(co_await receive_text(cb), "hello bob");
    co_await send_text(cb, "hello alice");
    BOOST_CHECK_EQUAL(co_await receive_text(ca), "hello alice");
    o.alice_remote = ca.remote_endpoint();
    o.bob_remote = cb.remote_endpoint();
    o.alice_path = ca.path();
  }());
  return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dual_stack)

// Both homes have IPv4 behind a port-restricted NAT and IPv6 behind a stateful firewall.
BOOST_AUTO_TEST_CASE(dual_stack_peers_register_over_both_families_and_connect_over_ipv6) {
  sim_world w;
  w.enable_ipv6();
  auto& alice_host = w.add_dual_stack_host("alice", "port-restricted-cone");
  auto& bob_host = w.add_dual_stack_host("bob", "port-restricted-cone");
  auto& alice = w.add_session(alice_host, "alice", w.dual_stack());
  auto& bob = w.add_session(bob_host, "bob", w.dual_stack());
  auto o = connect_and_talk(w, alice, bob);
  BOOST_CHECK(o.alice_remote.address().is_v6());
  BOOST_CHECK(o.bob_remote.address().is_v6());
  BOOST_CHECK_EQUAL(o.alice_remote.address(), bob_host.second_address()->address);
  // The broker saw each over both families.
  BOOST_CHECK(o.alice_reg.reflexive.address().is_v4());
  BOOST_REQUIRE(o.alice_reg.reflexive_other);
  BOOST_CHECK_EQUAL(o.alice_reg.reflexive_other->address(), alice_host.second_address()->address);
  auto stored = w.current_registry().find("bob", punch::test::world_clock().now());
  BOOST_REQUIRE(stored);
  BOOST_CHECK(stored->reflexive.address().is_v4());
  BOOST_CHECK_EQUAL(stored->reflexive_alt.address(), bob_host.second_address()->address);
  // Host candidates of both families, IPv6 first.
  BOOST_REQUIRE_EQUAL(stored->host.size(), 2u);
  BOOST_CHECK(stored->host[0].address().is_v6());
  BOOST_CHECK(stored->host[1].address().is_v4());
}

// IPv6 only, behind stateful firewalls on both sides: they filter like port-restricted NATs,
// and punching opens them.
BOOST_AUTO_TEST_CASE(ipv6_only_peers_behind_stateful_firewalls_punch_directly) {
  sim_world w;
  w.enable_ipv6();
  auto& alice_host = w.add_ipv6_host("alice");
  auto& bob_host = w.add_ipv6_host("bob");
  session_options v6;
  v6.local = endpoint{addr("::"), 0};
  auto& alice = w.add_session(alice_host, "alice", v6);
  auto& bob = w.add_session(bob_host, "bob", v6);
  auto o = connect_and_talk(w, alice, bob);
  BOOST_CHECK_EQUAL(o.alice_remote.address(), bob_host.address());
  BOOST_CHECK_EQUAL(o.bob_remote.address(), alice_host.address());
}

// A dual-stack peer and an IPv4-only one share only IPv4: they connect over it.
BOOST_AUTO_TEST_CASE(a_dual_stack_peer_and_an_ipv4_only_peer_connect_over_ipv4) {
  sim_world w;
  w.enable_ipv6();
  auto& alice = w.add_session(w.add_dual_stack_host("alice", "full-cone"), "alice", w.dual_stack());
  auto& bob = w.add_session(w.add_peer_host("bob", "port-restricted-cone"), "bob");
  auto o = connect_and_talk(w, alice, bob);
  BOOST_CHECK(o.alice_remote.address().is_v4());
  BOOST_CHECK(o.bob_remote.address().is_v4());
  BOOST_CHECK(!o.bob_reg.reflexive_other);
}

// IPv6 is announced but broken on bob's side (his firewall's uplink drops everything): the
// IPv4 pair carries the connection.
BOOST_AUTO_TEST_CASE(when_ipv6_is_broken_the_ipv4_pair_carries_the_connection) {
  sim_world w;
  w.enable_ipv6();
  auto& alice = w.add_session(w.add_dual_stack_host("alice", "port-restricted-cone"), "alice", w.dual_stack());
  auto& bob = w.add_session(w.add_dual_stack_host("bob", "restricted-cone"), "bob", w.dual_stack());
  w.net.find_nat("fw-bob")->set_uplink({std::chrono::milliseconds(5), {}, 1.0});
  auto o = connect_and_talk(w, alice, bob);
  BOOST_CHECK(o.alice_remote.address().is_v4());
  BOOST_CHECK(o.bob_remote.address().is_v4());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()  // dual_stack_test
