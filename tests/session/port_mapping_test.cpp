// Port mapping on the simulated network (issue 17): a NAT box that offers PCP forwards a port
// to the session behind it, which announces it as its `mapped` candidate; two symmetric NATs
// then connect directly over it instead of through the relay. The grant is renewed, asked
// again after the router restarts, deleted on close. (NAT-PMP, UPnP IGD, the fallbacks between
// the protocols and a gateway that never answers: port_mapping_protocols_test.)
#include "sim_world.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(port_mapping_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace punch;
using namespace punch::test;
using namespace boost::asio::experimental::awaitable_operators;
namespace asio = boost::asio;

namespace {

// Options of a session behind a NAT whose inside address 10.0.0.1 is the gateway.
session_options behind_gateway(session_options o) {
  o.port_mapping.gateway = addr("10.0.0.1");
  return o;
}

// Collects `s`'s port_mapped events into `into`.
void port_events(session& s, std::vector<session_event>& into) {
  s.on_event([&into](const session_event& e) {
    if (e.what == session_event::kind::port_mapped) into.push_back(e);
  });
}

// alice's home: a symmetric NAT whose router offers PCP at 10.0.0.1, granting at most `max`;
// her session behind it, and the port_mapped events it emits.
struct pcp_home {
  pcp_home(sim_world& w, std::chrono::seconds max, session_options o = {})
      : host(w.add_peer_host("alice", "symmetric")),
        nat(*w.net.find_nat("nat-alice")),
        pcp(w.net, nat, addr("10.0.0.1"), max),
        alice(w.add_session(host, "alice", behind_gateway(std::move(o)))) {
    port_events(alice, granted);
  }
  // The world (and alice's session in it) outlives this: her events must not reach `granted`
  // once it is gone.
  ~pcp_home() { alice.on_event({}); }
  pcp_home(const pcp_home&) = delete;
  pcp_home& operator=(const pcp_home&) = delete;
  sim::host& host;
  sim::nat_box& nat;
  sim::pcp_server pcp;
  session& alice;
  std::vector<session_event> granted;
};

}  // namespace

BOOST_AUTO_TEST_CASE(two_symmetric_nats_connect_directly_over_the_mapping_one_router_granted_by_pcp) {
  sim_world w;
  auto& relay = w.start_relay();
  pcp_home home(w, std::chrono::hours(2), w.with_relay());
  // Named one by one: clang 14 cannot capture structured bindings in the lambdas below.
  auto& alice = home.alice;
  auto& granted = home.granted;
  auto& pcp = home.pcp;
  auto& nat = home.nat;
  auto& bob = w.add_session(w.add_peer_host("bob", "symmetric"), "bob", w.with_relay());
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    while (granted.empty()) co_await w.pause(100ms);
    // The broker tells what the router granted to whoever asks for alice.
    auto seen = co_await bob.lookup("alice");
    BOOST_TEST_REQUIRE(seen.mapped.has_value());
    BOOST_TEST(*seen.mapped == granted.front().address);
    auto [cb, ca] = co_await (bob.connect("alice") && alice.accept());
    BOOST_TEST(to_string(cb.path()) == "mapped");
    BOOST_TEST(to_string(ca.path()) != "relay");
  }());
  BOOST_TEST_REQUIRE(granted.size() == 1u);
  BOOST_TEST(!granted.front().error);
  BOOST_TEST(granted.front().detail == "pcp");
  BOOST_TEST(granted.front().address.address() == nat.external_address());
  BOOST_TEST(granted.front().lifetime == std::chrono::seconds(7200));
  BOOST_TEST(pcp.stats().granted == 1u);
  // Nothing was relayed: the two hard sides did not even allocate.
  BOOST_TEST(relay.stats().pairs == 0u);
}

BOOST_AUTO_TEST_CASE(the_mapping_is_renewed_at_half_its_lifetime_and_deleted_when_the_session_closes) {
  sim_world w;
  pcp_home home(w, std::chrono::seconds(20));
  auto& alice = home.alice;
  auto& granted = home.granted;
  auto& pcp = home.pcp;
  auto& nat = home.nat;
  w.run([&]() -> asio::awaitable<void> {
    co_await alice.register_self();
    co_await w.pause(45s);
  }(), 60s);
  // Granted at once, renewed at 10 s, 20 s, 30 s and 40 s: the mapping never lapsed.
  BOOST_TEST(granted.size() == 5u);
  for (const auto& g : granted) {
    BOOST_TEST(g.lifetime == std::chrono::seconds(20));
    BOOST_TEST(g.address == granted.front().address);
  }
  BOOST_TEST(pcp.stats().granted == 5u);
  BOOST_TEST_REQUIRE(nat.explicit_mappings().size() == 1u);
  BOOST_TEST(nat.explicit_mappings().front().inside.port() == alice.local_endpoint().port());
  alice.close();
  w.settle(1s);
  BOOST_TEST(pcp.stats().deleted == 1u);
  BOOST_TEST(nat.explicit_mappings().empty());
}

BOOST_AUTO_TEST_CASE(a_router_that_restarted_is_noticed_by_its_epoch_and_asked_again_and_the_broker_told) {
  sim_world w;
  pcp_home home(w, std::chrono::seconds(20));
  auto& alice = home.alice;
  auto& granted = home.granted;
  auto& pcp = home.pcp;
  auto& nat = home.nat;
  auto& bob = w.add_session(w.add_peer_host("bob", "full-cone"), "bob");
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    co_await w.pause(5s);
    pcp.restart();  // the router reboots: its mappings, and alice's NAT mapping to the broker, are gone
    BOOST_TEST(nat.explicit_mappings().empty());
    co_await w.pause(6s);  // past the renewal at 10 s
    auto seen = co_await bob.lookup("alice");
    BOOST_TEST_REQUIRE(seen.mapped.has_value());
    BOOST_TEST(*seen.mapped == granted.back().address);
  }());
  // The grant, then (the renewal at 10 s showed the restart) the mapping asked for anew.
  BOOST_TEST_REQUIRE(granted.size() == 2u);
  BOOST_TEST(granted[0].detail == "pcp");
  BOOST_TEST(granted[1].detail == "pcp (gateway restarted)");
  BOOST_TEST(pcp.stats().granted == 3u);  // the grant, the renewal, the new request
  BOOST_TEST_REQUIRE(nat.explicit_mappings().size() == 1u);
  BOOST_TEST(nat.explicit_mappings().front().external == granted[1].address);
}

BOOST_AUTO_TEST_SUITE_END()
