// Connection keepalives on the simulated network: an idle connection stays open past its idle
// timeout on keepalives alone, each side sends one at least every connection_keepalive, and
// every connection's keepalives leave on the session's grid (100 ms apart at the default 5 s
// keepalive, at the session's own phase), so that a session's many connections wake it together
// (docs/performance.md, "Many connections in one session"). After connection_idle_after without
// data the keepalives slow to connection_idle_keepalive with no probe in between, data brings
// the active pace back at once, and a peer that vanishes while idle is still found out by the
// idle timeout.
#include "session_test_support.hpp"
#include "sim_world.hpp"
#include "tap_transport.hpp"

#include "punch/wire/protocol.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <array>
#include <map>
#include <vector>

BOOST_AUTO_TEST_SUITE(keepalive_test)

using namespace punch;
using namespace punch::test;
using namespace boost::asio::experimental::awaitable_operators;
namespace asio = boost::asio;

namespace {

// `o` for a session of `w`'s that a test makes itself (over a tap).
session_options on_world(sim_world& w, const std::string& id, session_options o) {
  o.broker = w.broker_endpoint();
  o.id = id;
  o.clock = &world_clock();
  return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(idle_connections_send_their_keepalives_on_one_grid_and_outlive_the_idle_timeout) {
  // When alice sent each keepalive frame, by destination (the tap sees the frame's header).
  std::map<endpoint, std::vector<clock::time_point>> keepalives;
  bool open_after_idling = false;
  sim_world w;
  session_options o;  // the defaults: keepalive 5 s, idle timeout 30 s
  o.connection_idle_after = std::chrono::hours(1);  // the active pace throughout (the idle one: below)
  auto& alice_host = w.add_peer_host("alice", "port-restricted-cone");
  tap_transport tap(alice_host.transport(), [&](std::vector<std::byte>& d, const endpoint& to) {
    if (wire::looks_like_frame(d) && wire::frame_kind_of(d) == wire::frame_kind::keepalive)
      keepalives[to].push_back(world_clock().now());
    return 1;
  });
  session alice(tap, on_world(w, "alice", o));
  auto& bob = w.add_session(w.add_peer_host("bob", "port-restricted-cone"), "bob", o);
  auto& carol = w.add_session(w.add_peer_host("carol", "full-cone"), "carol", o);
  w.run(
      [&]() -> asio::awaitable<void> {
        co_await (alice.register_self() && bob.register_self() && carol.register_self());
        auto [to_bob, from_alice] = co_await (alice.connect("bob") && bob.accept());
        co_await w.pause(std::chrono::milliseconds(1234));  // the second connection, made off the first's beat
        auto [to_carol, carol_side] = co_await (alice.connect("carol") && carol.accept());
        co_await w.pause(o.connection_idle_timeout + std::chrono::seconds(10));
        open_after_idling = to_bob.is_open() && from_alice.is_open() && to_carol.is_open() && carol_side.is_open();
        alice.close();
      }(),
      std::chrono::seconds(60));
  BOOST_TEST(open_after_idling);
  BOOST_TEST_REQUIRE(keepalives.size() == 2u);  // one path to each peer
  // Alice's grid: every keepalive of hers, to either peer, at the same phase of the grain.
  const auto grain = std::chrono::milliseconds(100);
  const auto phase = keepalives.begin()->second.front().time_since_epoch() % grain;
  for (const auto& path : keepalives) {
    const auto& sent = path.second;
    BOOST_TEST_CONTEXT("keepalives to " << path.first) {
      BOOST_TEST(sent.size() >= 7u);  // 40 s of idling, one every 5 s at most
      for (std::size_t i = 0; i < sent.size(); ++i) {
        BOOST_TEST((sent[i].time_since_epoch() % grain).count() == phase.count());
        if (i == 0) continue;
        const auto gap = sent[i] - sent[i - 1];
        BOOST_TEST(gap <= o.connection_keepalive);
        BOOST_TEST(gap > o.connection_keepalive - grain);
      }
    }
  }
}

namespace {

// When each frame of `kind` left, as a tap on a session's transport saw it.
struct frame_times {
  std::vector<clock::time_point> keepalives, probes;
  bool drop_everything = false;  // from now on the tap drops what its session sends
  int operator()(const std::vector<std::byte>& d) {
    if (drop_everything) return 0;
    if (!wire::looks_like_frame(d)) return 1;
    if (wire::frame_kind_of(d) == wire::frame_kind::keepalive) keepalives.push_back(world_clock().now());
    if (wire::frame_kind_of(d) == wire::frame_kind::probe) probes.push_back(world_clock().now());
    return 1;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(an_idle_connection_slows_its_keepalives_and_data_brings_the_active_pace_back) {
  sim_world w;
  const session_options o;  // the defaults: 5 s active, 25 s after 30 s without data
  frame_times alice_sent;
  auto& alice_host = w.add_peer_host("alice", "port-restricted-cone");
  tap_transport tap(alice_host.transport(), [&](std::vector<std::byte>& d, const endpoint&) { return alice_sent(d); });
  session alice(tap, on_world(w, "alice", o));
  auto& bob = w.add_session(w.add_peer_host("bob", "full-cone"), "bob", o);
  clock::time_point last_data{}, data_again{};
  bool open_after_idling = false, received_after_idling = false;
  w.run(
      [&]() -> asio::awaitable<void> {
        co_await (alice.register_self() && bob.register_self());
        auto [to_bob, from_alice] = co_await (alice.connect("bob") && bob.accept());
        std::array<std::byte, 100> buf{};
        co_await to_bob.send(asio::buffer(buf));
        co_await from_alice.receive(asio::buffer(buf));
        last_data = world_clock().now();
        co_await w.pause(std::chrono::seconds(100));  // three times the idle timeout
        open_after_idling = to_bob.is_open() && from_alice.is_open();
        // bob sends: alice only receives, and her keepalives come at the active pace again.
        data_again = world_clock().now();
        co_await from_alice.send(asio::buffer(buf));
        co_await to_bob.receive(asio::buffer(buf));
        received_after_idling = true;
        co_await w.pause(std::chrono::seconds(12));
        alice.close();
      }(),
      std::chrono::seconds(180));
  BOOST_TEST(open_after_idling);
  BOOST_TEST(received_after_idling);
  const auto grain = std::chrono::milliseconds(100);
  const auto idle_from = last_data + o.connection_idle_after;
  std::vector<clock::duration> active_gaps, idle_gaps;
  for (std::size_t i = 1; i < alice_sent.keepalives.size(); ++i) {
    const auto at = alice_sent.keepalives[i];
    const auto gap = at - alice_sent.keepalives[i - 1];
    if (at <= idle_from) active_gaps.push_back(gap);
    else if (at > idle_from + o.connection_keepalive && at < data_again) idle_gaps.push_back(gap);
  }
  BOOST_TEST(active_gaps.size() >= 4u);
  for (auto g : active_gaps) BOOST_TEST((g <= o.connection_keepalive && g > o.connection_keepalive - grain));
  // 100 s of idling, of which 70 s idle: two or three keepalives 25 s apart, and no probe.
  BOOST_TEST(idle_gaps.size() >= 2u);
  BOOST_TEST(idle_gaps.size() <= 3u);
  for (auto g : idle_gaps) BOOST_TEST((g <= o.connection_idle_keepalive && g > o.connection_idle_keepalive - grain));
  for (auto p : alice_sent.probes) BOOST_TEST((p < idle_from || p > data_again), "a probe while idle");
  // After bob's datagram: alice sends only keepalives, 5 s apart again (12 s: at least two).
  std::vector<clock::time_point> after;
  for (auto at : alice_sent.keepalives)
    if (at > data_again) after.push_back(at);
  BOOST_TEST_REQUIRE(after.size() >= 2u);
  BOOST_TEST((after[1] - after[0] <= o.connection_keepalive));
  BOOST_TEST((after[0] - data_again <= o.connection_keepalive));
}

BOOST_AUTO_TEST_CASE(a_peer_that_vanishes_while_idle_is_found_out_by_the_idle_timeout) {
  sim_world w;
  const session_options o;
  frame_times bob_sent;
  auto& alice = w.add_session(w.add_peer_host("alice", "full-cone"), "alice", o);
  auto& bob_host = w.add_peer_host("bob", "port-restricted-cone");
  tap_transport tap(bob_host.transport(), [&](std::vector<std::byte>& d, const endpoint&) { return bob_sent(d); });
  session bob(tap, on_world(w, "bob", o));
  clock::time_point vanished{}, noticed{};
  error_code why;
  w.run(
      [&]() -> asio::awaitable<void> {
        co_await (alice.register_self() && bob.register_self());
        auto [to_bob, from_alice] = co_await (alice.connect("bob") && bob.accept());
        co_await w.pause(std::chrono::seconds(45));  // idle: keepalives 25 s apart
        bob_sent.drop_everything = true;             // bob's machine is gone, without a word
        vanished = world_clock().now();
        std::array<std::byte, 16> buf{};
        auto [ec, n] = co_await to_bob.receive(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
        why = ec;
        noticed = world_clock().now();
        alice.close();
        bob.close();
      }(),
      std::chrono::seconds(120));
  BOOST_TEST(why == make_error_code(errc::timeout));
  // Nothing heard for connection_idle_timeout (from bob's last keepalive, before he vanished),
  // looked at on the grid: at most the timeout and a grain after he vanished.
  BOOST_TEST((noticed - vanished <= o.connection_idle_timeout + std::chrono::milliseconds(100)));
  BOOST_TEST((noticed - vanished > std::chrono::seconds(0)));
}

BOOST_AUTO_TEST_SUITE_END()
