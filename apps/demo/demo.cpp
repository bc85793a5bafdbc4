// The demo's story, step by step: discover, punch, report.
#include "demo.hpp"

#include "hole_punch.hpp"
#include "narrator.hpp"
#include "topology.hpp"

#include "punch/plugins/sim/network.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <iostream>

namespace punch_demo {
namespace {

namespace asio = boost::asio;
namespace sim = punch::sim;
using namespace asio::experimental::awaitable_operators;
using namespace std::chrono_literals;

constexpr std::uint16_t broker_port = 3478;
constexpr std::uint16_t peer_port = 5000;
constexpr int rounds = 4;

std::string direction(const std::string& from, const std::string& to, const punch_outcome& heard) {
  if (heard.first_heard == 0) return from + " -> " + to + ": never got through";
  return from + " -> " + to + ": got through (" + to + " first heard " + from + " in round " +
         std::to_string(heard.first_heard) + ")";
}

// Why a pair failed, in one line, when the NAT types explain it.
std::string hint(const options& o) {
  for (const nat_choice* nat : {&o.nat_a, &o.nat_b}) {
    if (nat->behaviour &&
        nat->behaviour->mapping != sim::mapping_behaviour::endpoint_independent) {
      return "hint: a " + nat->name + " NAT gives each destination its own external port "
             "(RFC 4787 §4.1), so the address the broker saw is not the one the peer must "
             "reach; this pair needs a relay or port prediction";
    }
  }
  if (o.loss > 0) return "hint: the links lose datagrams (--loss); another seed may get through";
  return "hint: see the filtered events above";
}

asio::awaitable<int> story(peer& alice, peer& bob, punch::endpoint broker, const options& o,
                           const narrator& say) {
  say.section("1. alice and bob ask the broker " + text(broker) + " how they look from outside");
  auto [alice_seen, bob_seen] =
      co_await (discover(alice, broker, say) && discover(bob, broker, say));
  if (!alice_seen || !bob_seen) {
    say.section("result");
    say.out() << "the broker never answered " << (alice_seen ? "bob" : "alice")
              << ": no addresses to punch with\ndirect punching failed\n";
    co_return exit_punch_failed;
  }

  const auto round_length = std::max<std::chrono::milliseconds>(100ms, 6 * o.latency);
  say.section("2. both send to the other's reflexive address at once, " +
              std::to_string(rounds) + " rounds of " + std::to_string(round_length.count()) +
              " ms");
  auto [heard_by_alice, heard_by_bob] =
      co_await (punch(alice, *bob_seen, broker, rounds, round_length, say) &&
                punch(bob, *alice_seen, broker, rounds, round_length, say));

  say.section("result");
  say.out() << direction("alice", "bob", heard_by_bob) << '\n'
            << direction("bob", "alice", heard_by_alice) << '\n';
  if (heard_by_alice.first_heard != 0 && heard_by_bob.first_heard != 0) {
    say.out() << "direct connection established\n";
    co_return exit_ok;
  }
  say.out() << "direct punching failed\n" << hint(o) << '\n';
  co_return exit_punch_failed;
}

}  // namespace

asio::awaitable<int> run(options o) {
  sim::network net{co_await asio::this_coro::executor, o.seed};
  const narrator say{std::cout, net};
  net.on_event([&say](const sim::event& e) { say.event(e); });
  const cast c = build_topology(net, o);
  describe(say, c, o);

  auto broker_socket = c.broker.transport().open({{}, broker_port});
  peer alice{"alice", c.alice.transport().open({{}, peer_port})};
  peer bob{"bob", c.bob.transport().open({{}, peer_port})};
  // The broker reflects until the story ends; || then cancels its pending receive.
  auto ended = co_await (reflect(broker_socket) ||
                         story(alice, bob, broker_socket.local_endpoint(), o, say));
  co_return std::get<1>(ended);
}

}  // namespace punch_demo
