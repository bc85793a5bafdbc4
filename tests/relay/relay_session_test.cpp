// Sessions through a punch::relay on the simulated network (ring: sim): two peers behind
// symmetric NATs, which cannot punch, connect through the relay (session_options::relay) and
// exchange data both ways; the relay saw one pair and forwarded their checks and frames.
// The world is tests/session's (a broker on the internet, peers behind NAT boxes).
#include "session_test_support.hpp"
#include "sim_world.hpp"

#include "punch/relay.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <string>
#include <string_view>

BOOST_AUTO_TEST_SUITE(relay_session_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace punch;
using namespace punch::test;
using namespace asio::experimental::awaitable_operators;

namespace {


// A relay on the sim internet next to the broker; closed and finished before it goes.
struct relay_host {
  explicit relay_host(sim_world& w)
      : world(w),
        host(w.net.add_host("relay", w.net.internet(), addr("203.0.113.2"), w.link)),
        socket(host.transport().open({{}, 3479})),
        service(socket, options_of(w)) {
    asio::co_spawn(w.ctx, service.run(), [this](std::exception_ptr) { done = true; });
  }
  ~relay_host() {
    socket.close();
    world.ctx.restart();
    sim::run(world.ctx, world.net.virtual_time(), [this] { return done; }, {.time = 1s});
  }
  endpoint address() const { return {addr("203.0.113.2"), 3479}; }
  // Allocations expire on the network's time.
  static relay_options options_of(sim_world& w) {
    relay_options o;
    o.clock = &w.net.clock();
    return o;
  }

  sim_world& world;
  sim::host& host;
  datagram_socket socket;
  punch::relay service;
  bool done = false;
};

}  // namespace

BOOST_AUTO_TEST_CASE(peers_behind_two_symmetric_nats_connect_through_the_relay) {
  sim_world w;
  relay_host relay(w);
  session_options o;
  o.relay = relay.address();
  o.punch_timeout = 5s;
  auto& alice = w.add_session(w.add_peer_host("alice", "symmetric"), "alice", o);
  auto& bob = w.add_session(w.add_peer_host("bob", "symmetric"), "bob", o);
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
    BOOST_CHECK(ca.path() == path_kind::relay);
    BOOST_CHECK(cb.path() == path_kind::relay);
    BOOST_CHECK_EQUAL(ca.remote_endpoint(), relay.address());
    co_await send_text(ca, "hello bob, via the relay");
    BOOST_CHECK_EQUAL(co_await receive_text(cb), "hello bob, via the relay");
    co_await send_text(cb, "hello alice");
    BOOST_CHECK_EQUAL(co_await receive_text(ca), "hello alice");
  }());
  BOOST_CHECK_EQUAL(relay.service.stats().pairs, 1u);
  BOOST_CHECK_EQUAL(relay.service.allocations(), 1u);
  BOOST_CHECK_GE(relay.service.stats().forwarded, 4u);  // checks both ways, two data frames
  BOOST_CHECK_EQUAL(relay.service.stats().rejected, 0u);
}

BOOST_AUTO_TEST_SUITE_END()  // relay_session_test
