// NAT boxes: RFC 4787 mapping, filtering, port allocation, lifetime, hairpinning, and NAT
// behind NAT.
#include "sim_fixture.hpp"

BOOST_AUTO_TEST_SUITE(sim_nat_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace sim_test;
using sim::event_kind;
using sim::nat_behaviour;

BOOST_AUTO_TEST_SUITE(sim_nat)

BOOST_AUTO_TEST_CASE(port_restricted_nat_drops_a_port_the_inside_has_not_sent_to_then_passes_it) {
  behind_nat t{nat_behaviour::port_restricted_cone()};
  t.run([&]() -> asio::awaitable<void> {
    auto in = t.inside.transport().open({{}, 5000});
    auto s3478 = t.server.transport().open({{}, 3478});
    auto s4000 = t.server.transport().open({{}, 4000});
    const endpoint mapped = co_await observed(in, s3478);
    BOOST_TEST(mapped == ep("198.51.100.1", 5000));

    co_await send(s4000, "unsolicited", mapped);
    BOOST_TEST(t.saw(event_kind::filtered));

    co_await send(in, "opening 4000", s4000.local_endpoint());
    auto opened = co_await receive(s4000);
    BOOST_REQUIRE(opened);
    co_await send(s4000, "answer", mapped);
    auto got = co_await receive(in);
    BOOST_REQUIRE(got);
    // The filtered datagram was never queued: the first one in is the answer.
    BOOST_TEST(got->text == "answer");
    BOOST_TEST(got->from == s4000.local_endpoint());
  }());
}

BOOST_AUTO_TEST_CASE(restricted_cone_passes_any_port_of_a_contacted_address_but_no_other_address) {
  behind_nat t{nat_behaviour::restricted_cone()};
  t.run([&]() -> asio::awaitable<void> {
    auto in = t.inside.transport().open({{}, 5000});
    auto s3478 = t.server.transport().open({{}, 3478});
    auto s4000 = t.server.transport().open({{}, 4000});
    auto o3478 = t.other.transport().open({{}, 3478});
    const endpoint mapped = co_await observed(in, s3478);

    co_await send(o3478, "other address", mapped);
    BOOST_TEST(t.saw(event_kind::filtered));

    co_await send(s4000, "other port, same address", mapped);
    BOOST_TEST(!t.dropped());
    auto got = co_await receive(in);
    BOOST_REQUIRE(got);
    BOOST_TEST(got->text == "other port, same address");
  }());
}

BOOST_AUTO_TEST_CASE(full_cone_drops_before_a_mapping_exists_and_passes_anything_after) {
  behind_nat t{nat_behaviour::full_cone()};
  t.run([&]() -> asio::awaitable<void> {
    auto in = t.inside.transport().open({{}, 5000});
    auto s3478 = t.server.transport().open({{}, 3478});
    auto o9999 = t.other.transport().open({{}, 9999});

    co_await send(o9999, "too early", ep("198.51.100.1", 5000));
    BOOST_TEST(t.saw(event_kind::filtered));

    const endpoint mapped = co_await observed(in, s3478);
    co_await send(o9999, "anyone", mapped);
    auto got = co_await receive(in);
    BOOST_REQUIRE(got);
    BOOST_TEST(got->text == "anyone");
    BOOST_TEST(got->from == o9999.local_endpoint());
  }());
}

BOOST_AUTO_TEST_CASE(symmetric_nat_gives_two_destinations_two_external_ports) {
  behind_nat t{nat_behaviour::symmetric()};
  t.run([&]() -> asio::awaitable<void> {
    auto in = t.inside.transport().open({{}, 5000});
    auto s = t.server.transport().open({{}, 3478});
    auto o = t.other.transport().open({{}, 3478});
    const endpoint to_server = co_await observed(in, s);
    const endpoint to_other = co_await observed(in, o);
    BOOST_TEST(to_server.address() == addr("198.51.100.1"));
    BOOST_TEST(to_other.address() == addr("198.51.100.1"));
    BOOST_TEST(to_server.port() != to_other.port());
    BOOST_TEST(t.nat.mappings().size() == 2u);
  }());
}

BOOST_AUTO_TEST_CASE(endpoint_independent_mapping_gives_two_destinations_the_same_port) {
  behind_nat t{nat_behaviour::port_restricted_cone()};
  t.run([&]() -> asio::awaitable<void> {
    auto in = t.inside.transport().open({{}, 5000});
    auto s = t.server.transport().open({{}, 3478});
    auto o = t.other.transport().open({{}, 4000});
    const endpoint to_server = co_await observed(in, s);
    const endpoint to_other = co_await observed(in, o);
    BOOST_TEST(to_server == to_other);
    BOOST_TEST(t.nat.mappings().size() == 1u);
  }());
}

BOOST_AUTO_TEST_CASE(address_dependent_mapping_shares_a_port_between_ports_of_one_address) {
  auto behaviour = nat_behaviour::port_restricted_cone();
  behaviour.mapping = sim::mapping_behaviour::address_dependent;
  behind_nat t{behaviour};
  t.run([&]() -> asio::awaitable<void> {
    auto in = t.inside.transport().open({{}, 5000});
    auto s1 = t.server.transport().open({{}, 3478});
    auto s2 = t.server.transport().open({{}, 4000});
    auto o = t.other.transport().open({{}, 3478});
    const endpoint a = co_await observed(in, s1);
    const endpoint same_address = co_await observed(in, s2);
    const endpoint other_address = co_await observed(in, o);
    BOOST_TEST(same_address == a);
    BOOST_TEST(other_address != a);
  }());
}

BOOST_AUTO_TEST_CASE(mapping_expires_after_its_lifetime_and_random_allocation_picks_a_new_port) {
  auto behaviour = nat_behaviour::symmetric();
  behaviour.mapping_lifetime = 30s;
  behind_nat t{behaviour};
  t.run([&]() -> asio::awaitable<void> {
    auto in = t.inside.transport().open({{}, 5000});
    auto s = t.server.transport().open({{}, 3478});
    const endpoint first = co_await observed(in, s);
    t.net.advance_clock(29s);
    const endpoint refreshed = co_await observed(in, s);
    BOOST_TEST(refreshed == first);  // still alive, and now refreshed
    t.net.advance_clock(31s);
    // The expired mapping no longer lets the server in.
    co_await send(s, "late", first);
    BOOST_TEST(t.saw(event_kind::filtered));
    BOOST_TEST(t.count(event_kind::mapping_expired) == 1u);
    const endpoint second = co_await observed(in, s);
    BOOST_TEST(second != first);
    BOOST_TEST(t.count(event_kind::mapping_created) == 2u);
  }());
}

BOOST_AUTO_TEST_CASE(sequential_allocation_increments_and_moves_on_after_expiry) {
  auto behaviour = nat_behaviour::port_restricted_cone();
  behaviour.ports = sim::port_allocation::sequential;
  behaviour.port_min = 20000;
  behaviour.mapping_lifetime = 1s;
  behind_nat t{behaviour};
  t.run([&]() -> asio::awaitable<void> {
    auto a = t.inside.transport().open({{}, 5000});
    auto b = t.inside.transport().open({{}, 5001});
    auto s = t.server.transport().open({{}, 3478});
    const endpoint first = co_await observed(a, s);
    const endpoint second = co_await observed(b, s);
    BOOST_TEST(first.port() == 20000);
    BOOST_TEST(second.port() == 20001);
    t.net.advance_clock(2s);
    // The old ports are free again, but sequential allocation moves on.
    const endpoint third = co_await observed(a, s);
    BOOST_TEST(third.port() == 20002);
  }());
}

BOOST_AUTO_TEST_CASE(preserve_keeps_the_inside_port_and_falls_back_when_it_is_taken) {
  behind_nat t{nat_behaviour::full_cone()};
  auto& second = t.net.add_host("second", t.nat.inside(), addr("10.0.0.3"));
  t.run([&]() -> asio::awaitable<void> {
    auto a = t.inside.transport().open({{}, 7777});
    auto b = second.transport().open({{}, 7777});
    auto s = t.server.transport().open({{}, 3478});
    const endpoint first = co_await observed(a, s);
    const endpoint second = co_await observed(b, s);
    BOOST_TEST(first.port() == 7777);
    BOOST_TEST(second.port() == 7778);
  }());
}

BOOST_AUTO_TEST_CASE(external_ports_stay_in_the_configured_range_and_run_out) {
  auto behaviour = nat_behaviour::symmetric();
  behaviour.port_min = 40000;
  behaviour.port_max = 40001;
  behind_nat t{behaviour};
  t.run([&]() -> asio::awaitable<void> {
    auto in = t.inside.transport().open({{}, 5000});
    auto s1 = t.server.transport().open({{}, 1});
    auto s2 = t.server.transport().open({{}, 2});
    const auto p1 = (co_await observed(in, s1)).port();
    const auto p2 = (co_await observed(in, s2)).port();
    BOOST_TEST((p1 == 40000 || p1 == 40001));
    BOOST_TEST((p2 == 40000 || p2 == 40001));
    BOOST_TEST(p1 != p2);
    co_await send(in, "no port left", ep("203.0.113.10", 3));
    BOOST_TEST(t.saw(event_kind::filtered));
    BOOST_TEST(!t.saw(event_kind::mapping_created));
  }());
}

BOOST_AUTO_TEST_CASE(inbound_traffic_does_not_refresh_a_mapping_unless_configured) {
  for (bool inbound_refreshes : {false, true}) {
    auto behaviour = nat_behaviour::full_cone();
    behaviour.mapping_lifetime = 10s;
    behaviour.inbound_refreshes = inbound_refreshes;
    behind_nat t{behaviour};
    t.run([&]() -> asio::awaitable<void> {
      auto in = t.inside.transport().open({{}, 5000});
      auto s = t.server.transport().open({{}, 3478});
      const endpoint mapped = co_await observed(in, s);
      t.net.advance_clock(6s);
      co_await send(s, "keepalive from outside", mapped);
      auto keepalive = co_await receive(in);
      BOOST_REQUIRE(keepalive);
      t.net.advance_clock(6s);
      co_await send(s, "twelve seconds in", mapped);
      BOOST_TEST(t.dropped() == !inbound_refreshes);
      BOOST_TEST(t.count(event_kind::mapping_expired) == (inbound_refreshes ? 0u : 1u));
    }());
  }
}

BOOST_AUTO_TEST_CASE(hairpinning_off_drops_a_datagram_to_the_nats_own_external_address) {
  auto behaviour = nat_behaviour::full_cone();
  behaviour.hairpinning = false;
  behind_nat t{behaviour};
  auto& neighbour = t.net.add_host("neighbour", t.nat.inside(), addr("10.0.0.3"));
  t.run([&]() -> asio::awaitable<void> {
    auto a = t.inside.transport().open({{}, 5000});
    auto b = neighbour.transport().open({{}, 6000});
    auto s = t.server.transport().open({{}, 3478});
    const endpoint b_mapped = co_await observed(b, s);
    co_await send(a, "via the external address", b_mapped);
    BOOST_TEST(t.saw(event_kind::hairpin_dropped));
    BOOST_TEST(!t.saw(event_kind::hairpinned));
  }());
}

BOOST_AUTO_TEST_CASE(hairpinning_on_delivers_with_the_translated_source) {
  behind_nat t{nat_behaviour::full_cone()};
  auto& neighbour = t.net.add_host("neighbour", t.nat.inside(), addr("10.0.0.3"));
  t.run([&]() -> asio::awaitable<void> {
    auto a = t.inside.transport().open({{}, 5000});
    auto b = neighbour.transport().open({{}, 6000});
    auto s = t.server.transport().open({{}, 3478});
    const endpoint a_mapped = co_await observed(a, s);
    const endpoint b_mapped = co_await observed(b, s);
    co_await send(a, "hairpin", b_mapped);
    BOOST_TEST(t.saw(event_kind::hairpinned));
    auto got = co_await receive(b);
    BOOST_REQUIRE(got);
    BOOST_TEST(got->text == "hairpin");
    // RFC 4787 REQ-9: the neighbour sees alice's external endpoint, not 10.0.0.2.
    BOOST_TEST(got->from == a_mapped);
  }());
}

BOOST_AUTO_TEST_CASE(nat_behind_nat_works_end_to_end) {
  world w;
  auto& cgn = w.net.add_nat("cgn", w.net.internet(), addr("198.51.100.7"),
                            nat_behaviour::port_restricted_cone());
  auto& home = w.net.add_nat("home", cgn.inside(), addr("100.64.0.2"),
                             nat_behaviour::port_restricted_cone());
  auto& laptop = w.net.add_host("laptop", home.inside(), addr("192.168.1.2"));
  auto& server = w.net.add_host("server", w.net.internet(), addr("203.0.113.10"));
  w.run([&]() -> asio::awaitable<void> {
    auto l = laptop.transport().open({{}, 5000});
    auto s = server.transport().open({{}, 3478});
    const endpoint seen = co_await observed(l, s);
    BOOST_TEST(seen.address() == addr("198.51.100.7"));
    BOOST_TEST(home.mappings().size() == 1u);
    BOOST_TEST(cgn.mappings().size() == 1u);
    BOOST_TEST(cgn.mappings().front().inside == home.mappings().front().external);

    co_await send(s, "reply", seen);
    auto got = co_await receive(l);
    BOOST_REQUIRE(got);
    BOOST_TEST(got->text == "reply");
    BOOST_TEST(got->from == s.local_endpoint());
  }());
}

BOOST_AUTO_TEST_CASE(presets_are_the_rfc_4787_behaviours_and_parse_by_name) {
  BOOST_TEST(nat_behaviour::preset_names().size() == 4u);
  for (auto name : nat_behaviour::preset_names()) BOOST_TEST(nat_behaviour::preset(name).has_value());
  BOOST_TEST(!nat_behaviour::preset("cone").has_value());
  BOOST_TEST(!nat_behaviour::preset("none").has_value());

  const auto symmetric = *nat_behaviour::preset("symmetric");
  BOOST_TEST((symmetric.mapping == sim::mapping_behaviour::address_and_port_dependent));
  BOOST_TEST((symmetric.ports == sim::port_allocation::random));
  BOOST_TEST((nat_behaviour::restricted_cone().filtering ==
              sim::filtering_behaviour::address_dependent));
  BOOST_TEST(nat_behaviour::full_cone().to_string().starts_with("EIM/EIF"));
  BOOST_TEST(symmetric.to_string().starts_with("APDM/APDF, random ports"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()  // sim_nat_test
