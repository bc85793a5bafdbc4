// Port mapping by each protocol on the simulated network (issue 17): a router that offers only
// NAT-PMP or only UPnP IGD grants the mapping by that protocol (through the sim transport,
// transport::async_map_port); the mapper falls from one protocol to the next when a router is
// silent or refuses, renews NAT-PMP and UPnP grants, asks again when NAT-PMP's epoch shows a
// restart, and takes a permanent UPnP lease when the router keeps no other; a gateway that
// never answers changes nothing of registration.
#include "home_router.hpp"
#include "sim_world.hpp"

#include <boost/asio/use_awaitable.hpp>

#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(port_mapping_protocols_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace punch;
using namespace punch::test;
namespace asio = boost::asio;

namespace {

// alice behind a symmetric NAT whose router offers `offers`; her port_mapped events. The events
// are declared before the session that reports to them.
struct home {
  home(sim_world& w, router_offers offers, sim::port_mapping_service_options service = {},
       std::chrono::seconds max_lifetime = std::chrono::hours(2))
      : host(w.add_peer_host("alice", "symmetric")),
        nat(*w.net.find_nat("nat-alice")),
        router(w.net, nat, offers, service, max_lifetime),
        alice(w.add_session(host, "alice", home_router::asked_by({}))) {
    alice.on_event([this](const session_event& e) {
      if (e.what == session_event::kind::port_mapped) granted.push_back(e);
    });
  }
  std::vector<session_event> granted;
  sim::host& host;
  sim::nat_box& nat;
  home_router router;
  session& alice;
};

// Registers alice, then lets `for_` of virtual time pass.
void register_and_wait(sim_world& w, session& alice, std::chrono::seconds for_) {
  w.run([&]() -> asio::awaitable<void> {
    co_await alice.register_self();
    co_await w.pause(for_);
  }(), for_ + 30s);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_router_that_offers_only_natpmp_or_only_upnp_grants_the_mapping_by_that_protocol) {
  for (const std::string protocol : {"natpmp", "upnp"}) {
    BOOST_TEST_CONTEXT("the router offers " << protocol) {
      sim_world w;
      home h(w, offering(protocol));
      register_and_wait(w, h.alice, 10s);  // PCP (and NAT-PMP) unanswered first
      BOOST_TEST_REQUIRE(h.granted.size() == 1u);
      BOOST_TEST(!h.granted.front().error);
      BOOST_TEST(h.granted.front().detail == protocol);
      BOOST_TEST(h.granted.front().address.address() == h.nat.external_address());
      BOOST_TEST(h.granted.front().lifetime == std::chrono::seconds(7200));
      const auto& granting = protocol == "natpmp" ? h.router.mapping->natpmp_stats() : h.router.mapping->upnp_stats();
      BOOST_TEST(granting.granted == 1u);
      BOOST_TEST(h.router.mapping->natpmp_stats().granted + h.router.mapping->upnp_stats().granted == 1u);
      BOOST_TEST_REQUIRE(h.nat.explicit_mappings().size() == 1u);
      BOOST_TEST(h.nat.explicit_mappings().front().inside.port() == h.alice.local_endpoint().port());
      BOOST_TEST(h.nat.explicit_mappings().front().external == h.granted.front().address);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_router_whose_pcp_is_off_is_asked_by_natpmp_next) {
  sim_world w;
  home h(w, {.pcp = true, .natpmp = true, .upnp = true});
  h.router.pcp->stop();
  register_and_wait(w, h.alice, 10s);
  BOOST_TEST_REQUIRE(h.granted.size() == 1u);
  BOOST_TEST(h.granted.front().detail == "natpmp");
  BOOST_TEST(h.router.pcp->stats().granted == 0u);
  BOOST_TEST(h.router.mapping->upnp_stats().granted == 0u);  // NAT-PMP granted: UPnP never asked
}

BOOST_AUTO_TEST_CASE(a_router_that_refuses_natpmp_is_asked_by_upnp_next) {
  sim_world w;
  home h(w, {.natpmp = true, .upnp = true}, {.natpmp_result = 2});  // not authorized
  register_and_wait(w, h.alice, 10s);
  BOOST_TEST_REQUIRE(h.granted.size() == 1u);
  BOOST_TEST(h.granted.front().detail == "upnp");
  BOOST_TEST(h.router.mapping->natpmp_stats().refused == 1u);
  BOOST_TEST(h.router.mapping->upnp_stats().granted == 1u);
}

BOOST_AUTO_TEST_CASE(a_router_that_refuses_every_protocol_it_speaks_is_reported_refused_with_each_reason) {
  sim_world w;
  home h(w, {.natpmp = true, .upnp = true}, {.natpmp_result = 4, .upnp_error = 606});
  register_and_wait(w, h.alice, 10s);
  BOOST_TEST_REQUIRE(h.granted.size() == 1u);
  BOOST_TEST(h.granted.front().error == make_error_code(errc::port_mapping_refused));
  BOOST_TEST(h.granted.front().detail.find("out of resources") != std::string::npos);
  BOOST_TEST(h.granted.front().detail.find("action not authorized") != std::string::npos);
  BOOST_TEST(h.nat.explicit_mappings().empty());
}

BOOST_AUTO_TEST_CASE(a_router_with_no_mapping_service_leaves_registration_as_fast_and_reports_every_protocol_unanswered) {
  const auto registering = [](bool mapping) {
    sim_world w;
    std::vector<session_event> events;
    auto& host = w.add_peer_host("alice", "symmetric");  // nothing answers at 10.0.0.1
    session_options o = home_router::asked_by({});
    o.port_mapping.enabled = mapping;
    auto& alice = w.add_session(host, "alice", o);
    alice.on_event([&events](const session_event& e) {
      if (e.what == session_event::kind::port_mapped) events.push_back(e);
    });
    registration_info info;
    const auto took = w.run([&]() -> asio::awaitable<void> { info = co_await alice.register_self(); }());
    BOOST_TEST(info.reflexive.port() != 0);
    w.run([&]() -> asio::awaitable<void> { co_await w.pause(6s); }());
    return std::pair{took, events};
  };
  const auto with_mapping = registering(true);
  const auto without_mapping = registering(false);
  BOOST_TEST(with_mapping.first == without_mapping.first);
  BOOST_TEST(without_mapping.second.empty());
  BOOST_TEST_REQUIRE(with_mapping.second.size() == 1u);
  const auto& e = with_mapping.second.front();
  BOOST_TEST(e.error == make_error_code(errc::port_mapping_unanswered));
  BOOST_TEST(e.detail.find("10.0.0.1") != std::string::npos);
  for (const char* asked : {"PCP", "NAT-PMP", "UPnP"}) BOOST_TEST(e.detail.find(asked) != std::string::npos, asked);
}

BOOST_AUTO_TEST_CASE(a_natpmp_router_that_restarted_is_noticed_by_its_epoch_and_asked_again) {
  sim_world w;
  home h(w, {.natpmp = true}, {}, 20s);
  auto& granted = h.granted;
  auto& router = h.router;
  auto& alice = h.alice;
  w.run([&]() -> asio::awaitable<void> {
    co_await alice.register_self();
    co_await w.pause(5s);
    router.mapping->restart();  // its mappings are gone, its epoch starts again
    co_await w.pause(10s);     // past the renewal at half the lifetime
  }());
  BOOST_TEST_REQUIRE(granted.size() == 2u);
  BOOST_TEST(granted[0].detail == "natpmp");
  BOOST_TEST(granted[1].detail == "natpmp (gateway restarted)");
  BOOST_TEST(router.mapping->natpmp_stats().granted == 3u);  // the grant, the renewal that saw the epoch, the new request
  BOOST_TEST_REQUIRE(h.nat.explicit_mappings().size() == 1u);
  BOOST_TEST(h.nat.explicit_mappings().front().external == granted[1].address);
}

BOOST_AUTO_TEST_CASE(a_upnp_lease_is_renewed_at_half_its_length_and_deleted_when_the_session_closes) {
  sim_world w;
  home h(w, {.upnp = true}, {}, 20s);
  register_and_wait(w, h.alice, 47s);
  // Granted once the first two protocols went unanswered (4.5 s in), renewed every 10 s.
  BOOST_TEST_REQUIRE(h.granted.size() == 5u);
  for (const auto& g : h.granted) {
    BOOST_TEST(g.detail == "upnp");
    BOOST_TEST(g.lifetime == std::chrono::seconds(20));
    BOOST_TEST(g.address == h.granted.front().address);
  }
  BOOST_TEST(h.router.mapping->upnp_stats().renewed == 4u);
  BOOST_TEST_REQUIRE(h.nat.explicit_mappings().size() == 1u);
  h.alice.close();
  w.settle(1s);
  BOOST_TEST(h.router.mapping->upnp_stats().deleted == 1u);
  BOOST_TEST(h.nat.explicit_mappings().empty());
}

BOOST_AUTO_TEST_CASE(a_upnp_router_that_keeps_only_permanent_leases_grants_one_and_it_is_never_renewed) {
  sim_world w;
  home h(w, {.upnp = true}, {.upnp_permanent_only = true}, 20s);
  register_and_wait(w, h.alice, 60s);
  BOOST_TEST_REQUIRE(h.granted.size() == 1u);
  BOOST_TEST(h.granted.front().detail == "upnp");
  BOOST_TEST(h.granted.front().lifetime == std::chrono::seconds(0));  // permanent
  BOOST_TEST(h.router.mapping->upnp_stats().refused == 1u);  // 725 to the lease asked first
  BOOST_TEST(h.router.mapping->upnp_stats().granted == 1u);
  BOOST_TEST(h.nat.explicit_mappings().size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
