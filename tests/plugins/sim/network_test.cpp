// The network: links (loss, latency, jitter), determinism by seed, events and the trace,
// topology checks, the clock, and the registry factory.
#include "sim_fixture.hpp"

#include <boost/asio/ip/address.hpp>

#include <stdexcept>

BOOST_AUTO_TEST_SUITE(sim_network_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace sim_test;
using sim::event_kind;
using sim::nat_behaviour;

namespace {

// Two public hosts, a (203.0.113.1) and b (203.0.113.2).
struct two_hosts : world {
  sim::host& a;
  sim::host& b;
  explicit two_hosts(const sim::link& a_link = {}, const sim::link& b_link = {},
                     std::uint64_t seed = 1)
      : world(seed),
        a(net.add_host("a", net.internet(), addr("203.0.113.1"), a_link)),
        b(net.add_host("b", net.internet(), addr("203.0.113.2"), b_link)) {}
};

sim::link lossy(double loss) {
  sim::link l;
  l.loss = loss;
  return l;
}

// A client behind a symmetric NAT pings four server ports in turn, one datagram at a time
// (each awaited), with loss and jitter on every link and mappings expiring every ten pings
// so that random ports are drawn again. Returns the trace as text.
std::vector<std::string> lossy_symmetric_run(std::uint64_t seed) {
  world w{seed};
  auto behaviour = nat_behaviour::symmetric();
  behaviour.mapping_lifetime = 1s;
  sim::link jittery;
  jittery.latency = 200us;
  jittery.jitter = 2ms;
  jittery.loss = 0.2;
  auto& nat = w.net.add_nat("nat", w.net.internet(), addr("198.51.100.1"), behaviour, jittery);
  auto& client = w.net.add_host("client", nat.inside(), addr("10.0.0.2"), jittery);
  auto& server = w.net.add_host("server", w.net.internet(), addr("203.0.113.10"), jittery);
  w.run([&]() -> asio::awaitable<void> {
    auto c = client.transport().open({{}, 5000});
    std::vector<punch::datagram_socket> ports;
    for (std::uint16_t p = 7000; p < 7004; ++p) ports.push_back(server.transport().open({{}, p}));
    for (int i = 0; i < 40; ++i) {
      if (i % 10 == 0) w.net.advance_clock(2s);
      auto& to = ports[static_cast<std::size_t>(i) % ports.size()];
      co_await send(c, "ping " + std::to_string(i), to.local_endpoint());
      if (!w.dropped()) {
        auto got = co_await receive(to);
        BOOST_REQUIRE(got);
      }
    }
  }());
  return w.trace_lines();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sim_network)

BOOST_AUTO_TEST_CASE(a_link_with_loss_one_drops_every_datagram) {
  two_hosts t{lossy(1.0)};
  t.run([&]() -> asio::awaitable<void> {
    auto a = t.a.transport().open({{}, 1000});
    auto b = t.b.transport().open({{}, 2000});
    for (int i = 0; i < 50; ++i) co_await send(a, "x", b.local_endpoint());
    co_return;
  }());
  t.settle();  // no receive is pending: returns once nothing is in flight
  BOOST_TEST(t.count(event_kind::lost) == 50u);
  BOOST_TEST(t.count(event_kind::delivered) == 0u);
}

BOOST_AUTO_TEST_CASE(a_link_with_loss_zero_drops_nothing_and_keeps_order) {
  two_hosts t{lossy(0.0), lossy(0.0)};
  t.run([&]() -> asio::awaitable<void> {
    auto a = t.a.transport().open({{}, 1000});
    auto b = t.b.transport().open({{}, 2000});
    for (int i = 0; i < 200; ++i) co_await send(a, std::to_string(i), b.local_endpoint());
    for (int i = 0; i < 200; ++i) {
      auto got = co_await receive(b);
      BOOST_REQUIRE(got);
      BOOST_TEST(got->text == std::to_string(i));
    }
  }());
  BOOST_TEST(t.count(event_kind::lost) == 0u);
  BOOST_TEST(t.count(event_kind::delivered) == 200u);
}

BOOST_AUTO_TEST_CASE(latency_delays_delivery_by_at_least_the_sum_of_the_links_crossed) {
  world w;
  sim::link uplink, host_link, server_link;
  uplink.latency = 30ms;
  host_link.latency = 20ms;
  server_link.latency = 10ms;
  auto& nat = w.net.add_nat("nat", w.net.internet(), addr("198.51.100.1"),
                            nat_behaviour::full_cone(), uplink);
  auto& client = w.net.add_host("client", nat.inside(), addr("10.0.0.2"), host_link);
  auto& server = w.net.add_host("server", w.net.internet(), addr("203.0.113.10"), server_link);
  w.run([&]() -> asio::awaitable<void> {
    auto c = client.transport().open({{}, 5000});
    auto s = server.transport().open({{}, 3478});
    const auto start = w.net.now();
    co_await send(c, "slow", s.local_endpoint());
    auto got = co_await receive(s);
    const auto elapsed = w.net.now() - start;
    BOOST_REQUIRE(got);
    BOOST_TEST((elapsed == 60ms));  // virtual time: exactly the three links' latencies
  }());
  const auto& delivered = w.net.trace().back();
  BOOST_TEST((delivered.kind == event_kind::delivered));
  BOOST_TEST(delivered.delay == 60ms);
}

BOOST_AUTO_TEST_CASE(jitter_adds_between_zero_and_its_bound_per_link) {
  sim::link l;
  l.latency = 1ms;
  l.jitter = 3ms;
  two_hosts t{l, l};
  t.run([&]() -> asio::awaitable<void> {
    auto a = t.a.transport().open({{}, 1000});
    auto b = t.b.transport().open({{}, 2000});
    for (int i = 0; i < 20; ++i) co_await send(a, "j", b.local_endpoint());
    for (int i = 0; i < 20; ++i) {
      auto got = co_await receive(b);
      BOOST_REQUIRE(got);
    }
  }());
  std::set<std::chrono::microseconds> delays;
  for (const auto& e : t.net.trace()) {
    if (e.kind != event_kind::delivered) continue;
    BOOST_TEST(e.delay >= 2ms);
    BOOST_TEST(e.delay <= 8ms);
    delays.insert(e.delay);
  }
  BOOST_TEST(delays.size() > 1u);
}

BOOST_AUTO_TEST_CASE(one_host_talking_to_itself_crosses_its_link_once) {
  sim::link l;
  l.latency = 5ms;
  two_hosts t{l};
  t.run([&]() -> asio::awaitable<void> {
    auto x = t.a.transport().open({{}, 1000});
    auto y = t.a.transport().open({{}, 2000});
    co_await send(x, "loopback", y.local_endpoint());
    auto got = co_await receive(y);
    BOOST_REQUIRE(got);
    BOOST_TEST(got->from == x.local_endpoint());
  }());
  BOOST_TEST(t.net.trace().back().delay == 5ms);
}

BOOST_AUTO_TEST_CASE(the_same_seed_gives_the_same_trace_and_another_seed_another) {
  const auto first = lossy_symmetric_run(42);
  const auto again = lossy_symmetric_run(42);
  const auto other = lossy_symmetric_run(43);
  BOOST_TEST(first.size() > 80u);
  BOOST_TEST(first == again, boost::test_tools::per_element());
  BOOST_TEST((first != other));
  // The run exercised all three kinds of randomness.
  auto mentions = [&](std::string_view what) {
    return std::any_of(first.begin(), first.end(),
                       [&](const std::string& l) { return l.find(what) != std::string::npos; });
  };
  BOOST_TEST(mentions("lost on the link"));
  BOOST_TEST(mentions(" mapped "));
  BOOST_TEST(mentions("after "));
}

BOOST_AUTO_TEST_CASE(a_datagram_to_an_unknown_address_is_reported_unreachable) {
  two_hosts t;
  t.run([&]() -> asio::awaitable<void> {
    auto a = t.a.transport().open({{}, 1000});
    co_await send(a, "nobody", ep("203.0.113.99", 1));
    BOOST_TEST(t.saw(event_kind::unreachable));
    BOOST_TEST(t.net.trace().back().to_string().find("nothing has address 203.0.113.99 in the "
                                                     "internet") != std::string::npos);
  }());
}

BOOST_AUTO_TEST_CASE(a_datagram_to_a_port_without_a_socket_is_reported_on_arrival) {
  two_hosts t;
  t.run([&]() -> asio::awaitable<void> {
    auto a = t.a.transport().open({{}, 1000});
    co_await send(a, "closed port", ep("203.0.113.2", 9));
  }());
  t.settle();
  BOOST_TEST(t.saw(event_kind::no_socket));
  BOOST_TEST(t.net.trace().back().to_string() ==
             "#1 b has no socket on port 9: dropped 203.0.113.1:1000 -> 203.0.113.2:9");
}

BOOST_AUTO_TEST_CASE(events_read_as_sentences) {
  behind_nat t{nat_behaviour::port_restricted_cone()};
  t.run([&]() -> asio::awaitable<void> {
    auto in = t.inside.transport().open({{}, 5000});
    auto s = t.server.transport().open({{}, 3478});
    auto o = t.other.transport().open({{}, 4000});
    co_await observed(in, s);
    co_await send(o, "hi", ep("198.51.100.1", 5000));
  }());
  const auto lines = t.trace_lines();
  BOOST_REQUIRE(lines.size() == 5u);
  BOOST_TEST(lines[0] == "#1 inside sent 10.0.0.2:5000 -> 203.0.113.10:3478 (8 bytes)");
  BOOST_TEST(lines[1] ==
             "#1 nat mapped 10.0.0.2:5000 => 198.51.100.1:5000 (for 203.0.113.10:3478)");
  BOOST_TEST(lines[2] ==
             "#1 delivered to server: 198.51.100.1:5000 -> 203.0.113.10:3478 (8 bytes)");
  BOOST_TEST(lines[3] == "#2 other sent 203.0.113.20:4000 -> 198.51.100.1:5000 (2 bytes)");
  BOOST_TEST(lines[4] ==
             "#2 nat filtered 203.0.113.20:4000 -> 198.51.100.1:5000: address-and-port-dependent "
             "filtering (RFC 4787 §5): 10.0.0.2:5000 has not sent to 203.0.113.20:4000");
}

BOOST_AUTO_TEST_CASE(subscribers_see_every_event_and_the_trace_keeps_only_the_latest) {
  two_hosts t;
  t.net.keep_trace(3);
  std::vector<event_kind> seen;
  t.net.on_event([&](const sim::event& e) { seen.push_back(e.kind); });
  t.run([&]() -> asio::awaitable<void> {
    auto a = t.a.transport().open({{}, 1000});
    auto b = t.b.transport().open({{}, 2000});
    for (int i = 0; i < 3; ++i) {
      co_await send(a, "x", b.local_endpoint());
      auto got = co_await receive(b);
      BOOST_REQUIRE(got);
    }
  }());
  BOOST_TEST(seen.size() == 6u);
  BOOST_REQUIRE(t.net.trace().size() == 3u);
  BOOST_TEST(t.net.trace().front().packet == 2u);
  BOOST_TEST(t.net.trace().back().packet == 3u);
  BOOST_TEST(t.net.trace().back().at >= t.net.trace().front().at);
}

BOOST_AUTO_TEST_CASE(building_a_bad_topology_throws_with_the_name) {
  world w;
  w.net.add_host("a", w.net.internet(), addr("203.0.113.1"));
  auto& nat = w.net.add_nat("nat", w.net.internet(), addr("198.51.100.1"),
                            nat_behaviour::full_cone());
  BOOST_CHECK_THROW(w.net.add_host("b", w.net.internet(), addr("203.0.113.1")),
                    std::invalid_argument);
  BOOST_CHECK_THROW(w.net.add_host("b", w.net.internet(), addr("198.51.100.1")),
                    std::invalid_argument);
  BOOST_CHECK_THROW(w.net.add_host("a", nat.inside(), addr("10.0.0.1")), std::invalid_argument);
  BOOST_CHECK_THROW(w.net.add_host("c", w.net.internet(), addr("203.0.113.3"), lossy(1.5)),
                    std::invalid_argument);
  BOOST_CHECK_THROW(w.net.add_host("c", sim::realm{99}, addr("203.0.113.3")),
                    std::invalid_argument);
  auto empty_range = nat_behaviour::full_cone();
  empty_range.port_min = 2000;
  empty_range.port_max = 1000;
  BOOST_CHECK_THROW(w.net.add_nat("nat2", w.net.internet(), addr("198.51.100.2"), empty_range),
                    std::invalid_argument);
  // The same private address may be used in two realms.
  auto& nat2 = w.net.add_nat("nat2", w.net.internet(), addr("198.51.100.2"),
                             nat_behaviour::full_cone());
  w.net.add_host("x", nat.inside(), addr("10.0.0.2"));
  BOOST_CHECK_NO_THROW(w.net.add_host("y", nat2.inside(), addr("10.0.0.2")));
  BOOST_TEST(w.net.find_host("y") != nullptr);
  BOOST_TEST(w.net.find_nat("nat2") == &nat2);
  BOOST_TEST(w.net.find_host("nobody") == nullptr);
  BOOST_TEST(w.net.realm_name(nat2.inside()) == "the inside of nat2");
}

BOOST_AUTO_TEST_CASE(advance_clock_moves_now_forward_without_sleeping) {
  world w;
  const auto before = w.net.now();
  const auto real_before = std::chrono::steady_clock::now();
  w.net.advance_clock(10min);
  BOOST_TEST((w.net.now() - before == 10min));
  BOOST_TEST((std::chrono::steady_clock::now() - real_before < 1min));
  BOOST_CHECK_THROW(w.net.advance_clock(-1s), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(advance_clock_fires_the_timers_due_by_then_and_only_those) {
  world w;
  punch::timer soon(w.ctx.get_executor(), w.net.clock(), 5min);
  punch::timer later(w.ctx.get_executor(), w.net.clock(), 20min);
  bool soon_fired = false, later_fired = false;
  soon.async_wait([&](punch::error_code ec) { soon_fired = !ec; });
  later.async_wait([&](punch::error_code ec) { later_fired = !ec; });
  w.net.advance_clock(10min);
  w.ctx.poll();
  BOOST_TEST(soon_fired);
  BOOST_TEST(!later_fired);
  // The driver moves on to the later one by itself, and no further.
  BOOST_TEST((w.settle() == 10min));
  BOOST_TEST(later_fired);
}

BOOST_AUTO_TEST_CASE(a_datagram_on_a_slow_link_arrives_after_exactly_its_latency_in_virtual_time) {
  world w;
  auto& a = w.net.add_host("a", w.net.internet(), addr("203.0.113.1"), {.latency = 40ms});
  auto& b = w.net.add_host("b", w.net.internet(), addr("203.0.113.2"), {.latency = 2s});
  const auto real_before = std::chrono::steady_clock::now();
  const auto took = w.run([&]() -> asio::awaitable<void> {
    auto sa = a.transport().open({{}, 1000});
    auto sb = b.transport().open({{}, 2000});
    co_await send(sa, "slow", sb.local_endpoint());
    auto got = co_await receive(sb, 5s);
    BOOST_REQUIRE(got);
  }());
  BOOST_TEST((took == 2040ms));
  // Two seconds of network time, far less of real time.
  BOOST_TEST((std::chrono::steady_clock::now() - real_before < 1s));
}

BOOST_AUTO_TEST_CASE(make_transport_builds_a_network_whose_sockets_reach_each_other) {
  asio::io_context ctx;
  punch::error_code ec;
  auto transport = sim::make_transport(
      ctx.get_executor(), {{"seed", "7"}, {"latency_ms", "2.5"}, {"loss", "0"}}, ec);
  BOOST_REQUIRE(!ec);
  BOOST_REQUIRE(transport);
  BOOST_TEST(transport->name() == "sim");
  sim::network* net = sim::network_of(*transport);
  BOOST_REQUIRE(net);
  BOOST_TEST(net->seed() == 7u);
  net->keep_trace(10);

  auto a = transport->open({});
  auto b = transport->open({});
  BOOST_TEST(a.local_endpoint().address() == addr(sim::default_host_address));
  std::string text = "through the factory";
  std::array<char, 64> buffer{};
  endpoint from;
  std::size_t received = 0;
  a.async_send_to(asio::buffer(text), b.local_endpoint(), [](punch::error_code, std::size_t) {});
  b.async_receive_from(asio::buffer(buffer), from, [&](punch::error_code e, std::size_t n) {
    BOOST_TEST(!e);
    received = n;
  });
  ctx.run_for(5s);
  BOOST_TEST(std::string(buffer.data(), received) == text);
  BOOST_TEST(from == a.local_endpoint());
  BOOST_TEST(net->trace().back().delay == 2500us);
}

BOOST_AUTO_TEST_CASE(make_transport_rejects_unknown_and_malformed_options) {
  asio::io_context ctx;
  for (const punch::transport_options& bad :
       {punch::transport_options{{"colour", "blue"}}, punch::transport_options{{"seed", "x"}},
        punch::transport_options{{"seed", "12x"}}, punch::transport_options{{"loss", "1.5"}},
        punch::transport_options{{"loss", "-0.1"}},
        punch::transport_options{{"latency_ms", "-3"}}}) {
    punch::error_code ec;
    auto transport = sim::make_transport(ctx.get_executor(), bad, ec);
    BOOST_TEST(!transport);
    BOOST_TEST((ec == punch::errc::invalid_transport_option));
  }
}

BOOST_AUTO_TEST_CASE(network_of_finds_the_network_behind_a_host_transport) {
  world w;
  auto& h = w.net.add_host("h", w.net.internet(), addr("203.0.113.1"));
  BOOST_TEST(sim::network_of(h.transport()) == &w.net);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- dual-stack hosts, moving hosts, rebooting NATs, IPv6 firewalls (issue 13) ----

BOOST_AUTO_TEST_CASE(a_dual_stack_hosts_socket_on_any_sends_from_the_destinations_family_and_hears_both) {
  world w;
  auto& h = w.net.add_host("h", w.net.internet(), addr("198.51.100.5"));
  w.net.add_address(h, w.net.internet(), addr("2001:db8::5"));
  auto& v4 = w.net.add_host("v4", w.net.internet(), addr("203.0.113.1"));
  auto& v6 = w.net.add_host("v6", w.net.internet(), addr("2001:db8::1"));
  auto dual = h.transport().open(ep("::", 7000));
  auto bound4 = h.transport().open(ep("198.51.100.5", 7001));
  auto s4 = v4.transport().open(ep("0.0.0.0", 9000));
  auto s6 = v6.transport().open(ep("2001:db8::1", 9000));
  BOOST_TEST(h.addresses().size() == 2u);
  BOOST_CHECK_THROW(w.net.add_address(h, w.net.internet(), addr("2001:db8::6")), std::invalid_argument);
  w.run([&]() -> asio::awaitable<void> {
    BOOST_TEST(co_await observed(dual, s4) == ep("198.51.100.5", 7000));
    BOOST_TEST(co_await observed(dual, s6) == ep("2001:db8::5", 7000));
    // An IPv4-mapped destination is IPv4.
    co_await send(dual, "mapped", ep("::ffff:203.0.113.1", 9000));
    auto m = co_await receive(s4);
    BOOST_TEST_REQUIRE(m.has_value());
    BOOST_TEST(m->from == ep("198.51.100.5", 7000));
    // Both families reach the "::" socket.
    co_await send(s6, "six", ep("2001:db8::5", 7000));
    co_await send(s4, "four", ep("198.51.100.5", 7000));
    auto a = co_await receive(dual);
    auto b = co_await receive(dual);
    BOOST_TEST_REQUIRE((a && b));
    BOOST_TEST(a->from == ep("2001:db8::1", 9000));
    BOOST_TEST(b->from == ep("203.0.113.1", 9000));
    // A socket bound to the IPv4 address keeps to IPv4: it cannot send to IPv6, nor hear it.
    co_await send(bound4, "no", ep("2001:db8::1", 9000));
    BOOST_TEST(w.saw(event_kind::unreachable));
    co_await send(s6, "not for you", ep("2001:db8::5", 7001));
    BOOST_TEST(!(co_await receive(bound4, 100ms)).has_value());
    BOOST_TEST(w.saw(event_kind::no_socket));
  }());
}

BOOST_AUTO_TEST_CASE(a_host_that_moves_sends_from_its_new_address_and_is_gone_from_the_old_one) {
  world w;
  auto& h = w.net.add_host("h", w.net.internet(), addr("198.51.100.5"));
  auto& server = w.net.add_host("server", w.net.internet(), addr("203.0.113.1"));
  auto s = h.transport().open(ep("0.0.0.0", 7000));
  auto srv = server.transport().open(ep("0.0.0.0", 9000));
  BOOST_CHECK_THROW(w.net.move_host(h, addr("203.0.113.1")), std::invalid_argument);
  w.run([&]() -> asio::awaitable<void> {
    BOOST_TEST(co_await observed(s, srv) == ep("198.51.100.5", 7000));
    w.net.move_host(h, addr("198.51.100.77"));
    BOOST_TEST(s.local_endpoint() == ep("198.51.100.77", 7000));
    BOOST_TEST(co_await observed(s, srv) == ep("198.51.100.77", 7000));
    co_await send(srv, "old", ep("198.51.100.5", 7000));
    BOOST_TEST(w.saw(event_kind::unreachable));
  }());
}

BOOST_AUTO_TEST_CASE(a_nat_that_reboots_forgets_its_mappings_and_maps_on_other_ports_after) {
  behind_nat w(nat_behaviour::port_restricted_cone());
  auto s = w.inside.transport().open(ep("0.0.0.0", 5000));
  auto srv = w.server.transport().open(ep("0.0.0.0", 9000));
  w.run([&]() -> asio::awaitable<void> {
    const auto before = co_await observed(s, srv);
    BOOST_TEST(before.port() == 5000);  // preserved
    w.nat.reboot();
    BOOST_TEST(w.nat.mappings().empty());
    co_await send(srv, "to the old mapping", before);
    BOOST_TEST(w.saw(event_kind::filtered));
    const auto after = co_await observed(s, srv);
    BOOST_TEST(after.address() == before.address());
    BOOST_TEST(after.port() != before.port());
  }());
  const auto rebooted = std::count_if(w.net.trace().begin(), w.net.trace().end(), [](const sim::event& e) {
    return e.kind == event_kind::mapping_expired && e.reason == "rebooted";
  });
  BOOST_TEST(rebooted == 1);
}

BOOST_AUTO_TEST_CASE(a_stateful_firewall_keeps_addresses_and_lets_in_only_what_the_inside_opened) {
  world w;
  auto& fw = w.net.add_nat("fw", w.net.internet(), addr("2001:db8:1::2"), nat_behaviour::stateful_firewall());
  auto& home = w.net.add_host("home", fw.inside(), addr("2001:db8:1::2"));
  auto& peer = w.net.add_host("peer", w.net.internet(), addr("2001:db8:2::2"));
  auto& stranger = w.net.add_host("stranger", w.net.internet(), addr("2001:db8:3::2"));
  auto s = home.transport().open(ep("::", 5000));
  auto p = peer.transport().open(ep("2001:db8:2::2", 6000));
  auto x = stranger.transport().open(ep("2001:db8:3::2", 6000));
  w.run([&]() -> asio::awaitable<void> {
    co_await send(x, "unsolicited", ep("2001:db8:1::2", 5000));
    BOOST_TEST(w.saw(event_kind::filtered));
    BOOST_TEST(co_await observed(s, p) == ep("2001:db8:1::2", 5000));  // no translation
    co_await send(p, "answer", ep("2001:db8:1::2", 5000));
    auto got = co_await receive(s);
    BOOST_TEST_REQUIRE(got.has_value());
    BOOST_TEST(got->from == ep("2001:db8:2::2", 6000));
    co_await send(x, "still not", ep("2001:db8:1::2", 5000));
    BOOST_TEST(w.saw(event_kind::filtered));
  }());
}

BOOST_AUTO_TEST_SUITE_END()  // sim_network_test
