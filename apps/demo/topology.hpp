// The demo's world: the simulated network, a punch::broker on it, and the sessions of alice
// and bob, each behind its own NAT (or none).
#pragma once

#include "options.hpp"

#include "punch/broker.hpp"
#include "punch/plugins/sim/network.hpp"
#include "punch/registry.hpp"
#include "punch/relay.hpp"
#include "punch/session.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <iosfwd>
#include <memory>

namespace punch_demo {

// broker 203.0.113.10:3478 (and its second port 3480, where peers learn whether their NAT is
// easy or hard) and relay 203.0.113.20:3479 on the internet; alice 10.0.1.2:5000
// behind nat-a (198.51.100.1)
// and bob 10.0.2.2:5000 behind nat-b (198.51.100.2). A peer without a NAT takes the NAT's
// public address instead. Every link gets the options' latency and loss.
// Members are destroyed in reverse order: the sessions and the broker before the network.
class world {
public:
  world(const boost::asio::any_io_executor& ex, const options& o);

  // Who is where, in a few lines.
  void describe(std::ostream& out, const options& o);
  // Closes both sessions and the broker's socket, so that every coroutine they run ends.
  void close();

  punch::sim::network net;
  punch::sim::host& broker_host;
  punch::sim::host& alice_host;
  punch::sim::host& bob_host;
  punch::sim::host& relay_host;
  punch::datagram_socket broker_socket;
  punch::datagram_socket other_socket;  // the broker's second port: Binding only
  punch::datagram_socket relay_socket;
  std::unique_ptr<punch::registry> registrations;
  std::unique_ptr<punch::registry> no_registrations;
  punch::broker broker;
  punch::broker other_port;
  punch::relay relay;
  punch::session alice;
  punch::session bob;
};

}  // namespace punch_demo
