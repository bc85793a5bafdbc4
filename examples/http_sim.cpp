// http_sim: Boost.Beast's HTTP over a punched stream, without a network: a broker on the
// simulated internet and two peers behind different NATs, in one process, on the network's
// virtual clock (seeded: the same run every time). The scenario (http_scenario.hpp): bob
// serves, alice fetches a greeting, then 1 MiB on the same stream (keep-alive), then a page
// that is not there. A CTest test (label sim) runs it: it exits 0 only if every answer is
// what was asked for (status, body, the big body's digest), all on one stream, and both
// sides ended without an error.
#include "http_scenario.hpp"

#include "punch/broker.hpp"
#include "punch/plugins/sim.hpp"
#include "punch/plugins/sim/simulation.hpp"
#include "punch/registry.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <iostream>

namespace asio = boost::asio;
namespace sim = punch::sim;
using asio::ip::make_address;

int main() {
  asio::io_context ctx;
  sim::network net{ctx.get_executor(), 15};  // virtual time: sim::run moves it
  const sim::link wan{std::chrono::milliseconds{20}, std::chrono::milliseconds{0}, 0.0};
  auto& home_a = net.add_nat("home-a", net.internet(), make_address("198.51.100.1"),
                             sim::nat_behaviour::port_restricted_cone(), wan);
  auto& home_b = net.add_nat("home-b", net.internet(), make_address("198.51.100.2"),
                             sim::nat_behaviour::restricted_cone(), wan);
  auto& alice_host = net.add_host("alice", home_a.inside(), make_address("192.168.1.10"));
  auto& bob_host = net.add_host("bob", home_b.inside(), make_address("192.168.1.20"));
  auto& broker_host = net.add_host("broker", net.internet(), make_address("203.0.113.10"), wan);

  punch::datagram_socket broker_socket = broker_host.transport().open({{}, 3478});
  std::unique_ptr<punch::registry> registrations = punch::make_memory_registry(1000);
  punch::broker broker{broker_socket, *registrations};
  asio::co_spawn(ctx, broker.run(), asio::detached);

  http_example::outcome out;  // before the sessions, which outlive no handler writing to it
  punch::session_options options;
  options.broker = {make_address("203.0.113.10"), 3478};
  options.clock = &net.virtual_time();
  options.id = "alice";
  punch::session alice{alice_host.transport(), options};
  options.id = "bob";
  punch::session bob{bob_host.transport(), options};

  asio::co_spawn(ctx, http_example::run(alice, bob, out), [&](std::exception_ptr error) {
    out.finished = true;
    out.failure = error;
    alice.close();
    bob.close();
    broker_socket.close();
  });
  const sim::run_result r = sim::run(ctx, net.virtual_time(), [&] { return out.finished; });
  std::cout << "http_sim: " << sim::to_string(r.outcome) << " after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(r.elapsed).count()
            << " ms of virtual time\n";
  sim::run(ctx, net.virtual_time());  // the sessions' own ends run out before the network goes
  return http_example::check(out, "http_sim");
}
