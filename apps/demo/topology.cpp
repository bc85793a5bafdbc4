// The demo's network, built from the command line (RFC 5737 documentation addresses).
#include "topology.hpp"

#include <iomanip>
#include <ostream>

namespace punch_demo {
namespace {

namespace asio = boost::asio;
namespace sim = punch::sim;

sim::host& add_peer(sim::network& net, const std::string& name, const nat_choice& nat,
                    const char* nat_name, const char* public_address,
                    const char* private_address, const sim::link& l) {
  if (!nat.behaviour) {
    return net.add_host(name, net.internet(), asio::ip::make_address(public_address), l);
  }
  auto& box = net.add_nat(nat_name, net.internet(), asio::ip::make_address(public_address),
                          *nat.behaviour, l);
  return net.add_host(name, box.inside(), asio::ip::make_address(private_address), l);
}

void describe_peer(const narrator& say, const sim::host& peer, const nat_choice& nat,
                   const char* nat_name, sim::network& net) {
  std::ostream& out = say.out();
  out << "  " << std::left << std::setw(7) << peer.name() << std::right << peer.address();
  if (!nat.behaviour) {
    out << " on the internet (no NAT)\n";
    return;
  }
  const sim::nat_box* box = net.find_nat(nat_name);
  out << " behind " << nat_name << " " << box->external_address() << ": " << nat.name << " ("
      << nat.behaviour->to_string() << ")\n";
}

}  // namespace

cast build_topology(sim::network& net, const options& o) {
  sim::link l;
  l.latency = o.latency;
  l.loss = o.loss;
  auto& broker =
      net.add_host("broker", net.internet(), asio::ip::make_address("203.0.113.10"), l);
  auto& alice = add_peer(net, "alice", o.nat_a, "nat-a", "198.51.100.1", "10.0.1.2", l);
  auto& bob = add_peer(net, "bob", o.nat_b, "nat-b", "198.51.100.2", "10.0.2.2", l);
  return {broker, alice, bob};
}

void describe(const narrator& say, const cast& c, const options& o) {
  std::ostream& out = say.out();
  out << "punch-demo: seed " << o.seed << ", every link " << o.latency.count()
      << " ms one way, loss " << o.loss << "\n";
  out << "  " << std::left << std::setw(7) << c.broker.name() << std::right << c.broker.address()
      << " on the internet (echoes the address it sees)\n";
  describe_peer(say, c.alice, o.nat_a, "nat-a", c.alice.network());
  describe_peer(say, c.bob, o.nat_b, "nat-b", c.bob.network());
}

}  // namespace punch_demo
