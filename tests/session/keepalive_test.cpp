// Connection keepalives on the simulated network: an idle connection stays open past its idle
// timeout on keepalives alone, each side sends one at least every connection_keepalive, and
// every connection's keepalives leave on the session's grid (100 ms apart at the default 5 s
// keepalive, at the session's own phase), so that a session's many connections wake it together
// (docs/performance.md, "Many connections in one session").
#include "session_test_support.hpp"
#include "sim_world.hpp"
#include "tap_transport.hpp"

#include "punch/wire/protocol.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <map>
#include <vector>

BOOST_AUTO_TEST_SUITE(keepalive_test)

using namespace punch;
using namespace punch::test;
using namespace boost::asio::experimental::awaitable_operators;
namespace asio = boost::asio;

BOOST_AUTO_TEST_CASE(idle_connections_send_their_keepalives_on_one_grid_and_outlive_the_idle_timeout) {
  // When alice sent each keepalive frame, by destination (the tap sees the frame's header).
  std::map<endpoint, std::vector<clock::time_point>> keepalives;
  bool open_after_idling = false;
  sim_world w;
  const session_options o;  // the defaults: keepalive 5 s, idle timeout 30 s
  auto& alice_host = w.add_peer_host("alice", "port-restricted-cone");
  tap_transport tap(alice_host.transport(), [&](std::vector<std::byte>& d, const endpoint& to) {
    if (wire::looks_like_frame(d) && wire::frame_kind_of(d) == wire::frame_kind::keepalive)
      keepalives[to].push_back(world_clock().now());
    return 1;
  });
  auto ao = o;
  ao.broker = w.broker_endpoint();
  ao.id = "alice";
  ao.clock = &world_clock();
  session alice(tap, ao);
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

BOOST_AUTO_TEST_SUITE_END()
