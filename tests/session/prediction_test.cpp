// Port prediction on the simulated network (issue 5): a symmetric NAT against a
// port-restricted one connects directly; a NAT that allocates ports in sequence is found in a
// few probes; probing keeps to its budget and rate; the hard side opens at most its socket
// budget and closes what the connection does not use.
#include "session_test_support.hpp"
#include "sim_world.hpp"
#include "tap_transport.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <vector>

BOOST_AUTO_TEST_SUITE(prediction_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace punch;
using namespace punch::test;
using namespace boost::asio::experimental::awaitable_operators;
namespace asio = boost::asio;

namespace {

using steady = punch::clock;  // the world's virtual time: read through world_clock()

// A symmetric NAT (a new port per destination) that hands its ports out one after another.
sim::host& add_sequential_symmetric_host(sim_world& w, const std::string& name, const char* external) {
  auto b = sim::nat_behaviour::symmetric();
  b.ports = sim::port_allocation::sequential;
  auto& nat = w.net.add_nat("nat-" + name, w.net.internet(), addr(external), b, w.link);
  return w.net.add_host(name, nat.inside(), addr("10.0.0.2"), w.link);
}

// What a session sends to one address: its probes are the datagrams to ports other than the
// peer's reflexive one (which the ordinary checks go to).
struct outbound_log {
  asio::ip::address to;
  std::vector<steady::time_point> at;
  std::vector<std::uint16_t> ports;
  int record(const endpoint& ep) {
    if (ep.address() == to) {
      at.push_back(punch::test::world_clock().now());
      ports.push_back(ep.port());
    }
    return 1;
  }
  // Where `port` first appears among the datagrams to ports other than `skip` (1-based; 0: never).
  std::size_t position_of(std::uint16_t port, std::uint16_t skip) const {
    std::size_t n = 0;
    for (auto p : ports) {
      if (p == skip) continue;
      ++n;
      if (p == port) return n;
    }
    return 0;
  }
  std::size_t other_than(std::uint16_t port) const {
    std::size_t n = 0;
    for (auto p : ports) n += p != port;
    return n;
  }
};

// Runs the world until `done()` holds, checking every 20 ms, for at most `limit`.
template <typename Pred>
asio::awaitable<bool> eventually(Pred done, std::chrono::milliseconds limit) {
  punch::timer t(co_await asio::this_coro::executor, punch::test::world_clock());
  for (auto waited = 0ms; !done() && waited < limit; waited += 20ms) {
    t.expires_after(20ms);
    co_await t.async_wait(asio::use_awaitable);
  }
  co_return done();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(port_prediction_on_simulated_network)

BOOST_AUTO_TEST_CASE(a_symmetric_nat_that_allocates_in_sequence_is_found_within_a_few_probes) {
  sim_world w;
  auto& alice = w.add_session(add_sequential_symmetric_host(w, "alice", "198.51.100.200"), "alice");
  auto& bob_host = w.add_peer_host("bob", "port-restricted-cone");
  outbound_log log{addr("198.51.100.200"), {}, {}};
  tap_transport tap(bob_host.transport(), [&](std::vector<std::byte>&, const endpoint& to) { return log.record(to); });
  session_options o;
  o.broker = w.broker_endpoint();
  o.id = "bob";
  o.clock = &w.net.clock();
  session bob(tap, o);
  std::uint16_t alice_port = 0, path_port = 0;
  // Measured beside the registration: the refresh that tells the broker reports it.
  nat_mapping alice_nat = nat_mapping::unknown, bob_nat = nat_mapping::unknown;
  alice.on_event([&](const session_event& e) {
    if (e.what == session_event::kind::refreshed) alice_nat = e.nat;
  });
  bob.on_event([&](const session_event& e) {
    if (e.what == session_event::kind::refreshed) bob_nat = e.nat;
  });
  w.run([&]() -> asio::awaitable<void> {
    auto [ra, rb] = co_await (alice.register_self() && bob.register_self());
    alice_port = ra.reflexive.port();
    auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
    BOOST_CHECK(alice_nat == nat_mapping::endpoint_dependent);
    BOOST_CHECK(bob_nat == nat_mapping::endpoint_independent);
    BOOST_CHECK(cb.path() == path_kind::predicted);
    path_port = cb.remote_endpoint().port();
    co_await send_text(ca, "through the prediction");
    BOOST_CHECK_EQUAL(co_await receive_text(cb), "through the prediction");
  }());
  // The ports right after alice's broker mapping come first: a random search needs about
  // 250 probes on average against 256 mappings; walking up from the known port, a few. (More
  // go out while the first hit's answer is on its way: a batch every 10 ms.)
  const std::size_t hit = log.position_of(path_port, alice_port);
  BOOST_TEST_MESSAGE("the path's port was probe " << hit << " of " << log.other_than(alice_port));
  BOOST_CHECK_GT(hit, 0u);
  BOOST_CHECK_LE(hit, 8u);
  bob.close();
}

BOOST_AUTO_TEST_CASE(probing_stops_at_its_budget_and_keeps_to_its_rate) {
  sim_world w;
  auto& alice_host = w.add_peer_host("alice", "symmetric");    // 198.51.100.101
  auto& bob_host = w.add_peer_host("bob", "port-restricted-cone");  // 198.51.100.102
  // Nothing of alice's reaches bob: no mapping of hers toward him exists, every probe misses.
  tap_transport alice_tap(alice_host.transport(), [&](std::vector<std::byte>&, const endpoint& to) {
    return to.address() == addr("198.51.100.102") ? 0 : 1;
  });
  outbound_log log{addr("198.51.100.101"), {}, {}};
  tap_transport bob_tap(bob_host.transport(), [&](std::vector<std::byte>&, const endpoint& to) { return log.record(to); });
  session_options ao;
  ao.broker = w.broker_endpoint();
  ao.id = "alice";
  ao.punch_timeout = 2s;
  ao.clock = &w.net.clock();
  session alice(alice_tap, ao);
  session_options bo;
  bo.broker = w.broker_endpoint();
  bo.id = "bob";
  bo.prediction.probes = 300;
  bo.prediction.probes_per_second = 1000;
  bo.clock = &w.net.clock();
  session bob(bob_tap, bo);
  std::uint16_t alice_port = 0;
  error_code failure;
  w.run([&]() -> asio::awaitable<void> {
    auto [ra, rb] = co_await (alice.register_self() && bob.register_self());
    (void)rb;
    alice_port = ra.reflexive.port();
    try {
      co_await (alice.connect("bob") && bob.accept());
    } catch (...) {
      failure = sim_world::code_of(std::current_exception());
    }
    // The failed attempt ends its prediction within a round: every extra socket closes.
    BOOST_CHECK(co_await eventually([&] { return alice_tap.open_now() == 1; }, 2s));
  }());
  BOOST_CHECK_EQUAL(failure, make_error_code(errc::punch_timeout));
  // Every probe went out (one may have drawn alice's own port and been skipped), none more.
  const std::size_t probes = log.other_than(alice_port);
  BOOST_CHECK_LE(probes, 300u);
  BOOST_CHECK_GE(probes, 298u);
  // 300 probes at 1000/s take 0.3 s, not one burst (one tick of 10 ms is a batch of 10).
  std::vector<steady::time_point> probe_times;
  for (std::size_t i = 0; i < log.ports.size(); ++i)
    if (log.ports[i] != alice_port) probe_times.push_back(log.at[i]);
  BOOST_REQUIRE(!probe_times.empty());
  BOOST_CHECK_GE(probe_times.back() - probe_times.front(), 280ms);
  // The hard side opened its 256 sockets (and closed them all, above).
  BOOST_CHECK_EQUAL(alice_tap.opened(), 1u + 256u);
  alice.close();
  bob.close();
}

BOOST_AUTO_TEST_CASE(the_hard_side_keeps_only_the_socket_its_connection_uses) {
  sim_world w;
  auto& alice_host = w.add_peer_host("alice", "symmetric");
  auto& bob = w.add_session(w.add_peer_host("bob", "port-restricted-cone"), "bob");
  tap_transport alice_tap(alice_host.transport(), [](std::vector<std::byte>&, const endpoint&) { return 1; });
  session_options ao;
  ao.broker = w.broker_endpoint();
  ao.id = "alice";
  ao.prediction.sockets = 64;
  ao.prediction.duration = 1500ms;
  ao.clock = &w.net.clock();
  session alice(alice_tap, ao);
  std::size_t open_while_connected = 0;
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
    // With 64 mappings the default 2048 probes miss about once in 7; not worth a flaky test.
    BOOST_TEST_MESSAGE("alice's path: " << to_string(ca.path()) << ", bob's: " << to_string(cb.path()));
    BOOST_CHECK(ca.path() != path_kind::relay);
    // Prediction ends (1.5 s) and closes the sockets the connection does not use: the
    // session's and, when the path runs over a prediction socket, that one stay.
    BOOST_CHECK(co_await eventually([&] { return alice_tap.open_now() <= 2; }, 4s));
    open_while_connected = alice_tap.open_now();
    // Data keeps flowing over the path after the pruning.
    co_await send_text(ca, "after pruning");
    BOOST_CHECK_EQUAL(co_await receive_text(cb), "after pruning");
    co_await send_text(cb, "and back");
    BOOST_CHECK_EQUAL(co_await receive_text(ca), "and back");
  }());
  BOOST_CHECK_LE(alice_tap.opened(), 1u + 64u);
  BOOST_CHECK_GE(open_while_connected, 1u);
  alice.close();
}

// A user starts the connecting peer the moment the other one reports itself registered: the
// other one's NAT mapping, measured beside its registration, is still on its way to the
// broker (here its first discovery Binding was lost and goes out again after request_rto), so
// the introduction says "unknown", and the accepting side does not know its own mapping yet
// either. Prediction decides when it is due: it waits for its own measurement and asks the
// broker again for the peer's. (Without that both sides skipped prediction and the pair
// timed out: the NAT lab's stream scenario did, once, under 5 % loss.)
namespace {
void connects_by_prediction_while_the_acceptors_mapping_is_still_measured(const char* alice_nat,
                                                                          const char* bob_nat) {
  sim_world w;
  session_options ao;
  ao.punch_timeout = 4s;
  auto& alice = w.add_session(w.add_peer_host("alice", alice_nat), "alice", ao);
  auto& bob_host = w.add_peer_host("bob", bob_nat);
  std::size_t dropped = 0;
  tap_transport bob_tap(bob_host.transport(), [&](std::vector<std::byte>&, const endpoint& to) {
    if (to != endpoint{addr("203.0.113.1"), 3480} || dropped > 0) return 1;
    ++dropped;  // the broker's other port: the discovery Binding
    return 0;
  });
  session_options bo;
  bo.broker = w.broker_endpoint();
  bo.id = "bob";
  bo.punch_timeout = 4s;
  bo.clock = &w.net.clock();
  session bob(bob_tap, bo);
  nat_mapping bob_nat_when_registered = nat_mapping::endpoint_dependent;
  path_kind alice_path = path_kind::relay, bob_path = path_kind::relay;
  std::string received;
  w.run([&]() -> asio::awaitable<void> {
    auto rb = co_await bob.register_self();
    bob_nat_when_registered = rb.nat;
    co_await alice.register_self();
    auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
    alice_path = ca.path();
    bob_path = cb.path();
    co_await send_text(ca, "predicted after all");
    received = co_await receive_text(cb);
  }());
  // The case under test happened: bob's first measurement was lost, he registered without it.
  BOOST_CHECK_EQUAL(dropped, 1u);
  BOOST_CHECK(bob_nat_when_registered == nat_mapping::unknown);
  BOOST_CHECK(alice_path == path_kind::predicted);
  BOOST_CHECK(bob_path == path_kind::predicted);
  BOOST_CHECK_EQUAL(received, "predicted after all");
  bob.close();
}
}  // namespace

BOOST_AUTO_TEST_CASE(the_hard_side_predicts_toward_a_peer_whose_mapping_reached_the_broker_after_the_introduction) {
  connects_by_prediction_while_the_acceptors_mapping_is_still_measured("symmetric", "port-restricted-cone");
}

BOOST_AUTO_TEST_CASE(the_easy_side_predicts_toward_a_peer_whose_mapping_reached_the_broker_after_the_introduction) {
  connects_by_prediction_while_the_acceptors_mapping_is_still_measured("port-restricted-cone", "symmetric");
}

BOOST_AUTO_TEST_CASE(without_prediction_symmetric_against_port_restricted_times_out_as_before) {
  sim_world w;
  session_options o;
  o.punch_timeout = 1500ms;
  o.prediction.enabled = false;
  auto& alice = w.add_session(w.add_peer_host("alice", "symmetric"), "alice", o);
  auto& bob = w.add_session(w.add_peer_host("bob", "port-restricted-cone"), "bob", o);
  error_code failure;
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    try {
      co_await alice.connect("bob");
    } catch (...) {
      failure = sim_world::code_of(std::current_exception());
    }
  }());
  BOOST_CHECK_EQUAL(failure, make_error_code(errc::punch_timeout));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()  // prediction_test
