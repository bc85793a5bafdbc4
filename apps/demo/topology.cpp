// The demo's world, built from the command line (RFC 5737 documentation addresses).
#include "topology.hpp"

#include <iomanip>
#include <ostream>
#include <string>

namespace punch_demo {
namespace {

namespace asio = boost::asio;
namespace sim = punch::sim;
using namespace std::chrono_literals;

constexpr std::uint16_t broker_port = 3478;
constexpr std::uint16_t relay_port = 3479;
constexpr std::uint16_t second_port = 3480;

punch::broker_options main_port_options() {
  punch::broker_options b;
  b.other_address = punch::endpoint{asio::ip::make_address("203.0.113.10"), second_port};
  return b;
}

punch::broker_options other_port_options() {
  punch::broker_options b;
  b.binding_only = true;
  return b;
}
constexpr std::uint16_t peer_port = 5000;

sim::link link_of(const options& o) {
  sim::link l;
  l.latency = o.latency;
  l.loss = o.loss;
  return l;
}

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

// Deadlines that grow with the latency, so that a slow network is not mistaken for a
// closed one, and stay short on a fast one, so that a hopeless pair fails in seconds.
punch::session_options session_for(const sim::host& h, const std::string& id, const options& o) {
  punch::session_options s;
  s.broker = {asio::ip::make_address("203.0.113.10"), broker_port};
  s.id = id;
  s.local = {h.address(), peer_port};
  s.punch_timeout = std::max<std::chrono::milliseconds>(3s, 20 * o.latency);
  s.request_timeout = std::max<std::chrono::milliseconds>(5s, 40 * o.latency);
  if (o.relay) s.relay = punch::endpoint{asio::ip::make_address("203.0.113.20"), relay_port};
  // Punching answers within a few round trips or never: the relay after ten of them.
  s.relay_after = std::max<std::chrono::milliseconds>(500ms, 10 * 4 * o.latency);
  return s;
}

void describe_peer(std::ostream& out, const sim::host& peer, const nat_choice& nat,
                   const sim::nat_box* box) {
  out << "  " << std::left << std::setw(7) << peer.name() << std::right << peer.address() << ':'
      << peer_port;
  if (!box) {
    out << " on the internet, no NAT\n";
    return;
  }
  const sim::nat_behaviour& b = box->behaviour();
  out << " behind " << box->name() << " " << box->external_address() << ", " << nat.name << " ("
      << sim::to_string(b.mapping) << '/' << sim::to_string(b.filtering) << ", "
      << sim::to_string(b.ports) << " ports)\n";
}

}  // namespace

world::world(const asio::any_io_executor& ex, const options& o)
    : net(ex, o.seed, punch::steady_clock()),  // real time: a person watches it
      broker_host(net.add_host("broker", net.internet(), asio::ip::make_address("203.0.113.10"),
                               link_of(o))),
      alice_host(add_peer(net, "alice", o.nat_alice, "nat-a", "198.51.100.1", "10.0.1.2",
                          link_of(o))),
      bob_host(add_peer(net, "bob", o.nat_bob, "nat-b", "198.51.100.2", "10.0.2.2", link_of(o))),
      relay_host(net.add_host("relay", net.internet(), asio::ip::make_address("203.0.113.20"), link_of(o))),
      broker_socket(broker_host.transport().open({{}, broker_port})),
      other_socket(broker_host.transport().open({{}, second_port})),
      relay_socket(relay_host.transport().open({{}, relay_port})),
      registrations(punch::make_memory_registry(16)),
      no_registrations(punch::make_memory_registry(1)),
      broker(broker_socket, *registrations, main_port_options()),
      other_port(other_socket, *no_registrations, other_port_options()),
      relay(relay_socket),
      alice(alice_host.transport(), session_for(alice_host, "alice", o)),
      bob(bob_host.transport(), session_for(bob_host, "bob", o)) {}

void world::describe(std::ostream& out, const options& o) {
  out << "punch-demo: seed " << o.seed << ", every link " << o.latency.count()
      << " ms one way, loss " << o.loss << "\n"
      << "  " << std::left << std::setw(7) << "broker" << std::right
      << broker_socket.local_endpoint() << " on the internet (punch::broker; port "
      << other_socket.local_endpoint().port() << " tells peers whether their NAT is easy or hard)\n";
  if (o.relay)
    out << "  " << std::left << std::setw(7) << "relay" << std::right << relay_socket.local_endpoint()
        << " on the internet (punch::relay, used only if punching fails)\n";
  describe_peer(out, alice_host, o.nat_alice, net.find_nat("nat-a"));
  describe_peer(out, bob_host, o.nat_bob, net.find_nat("nat-b"));
}

void world::close() {
  alice.close();
  bob.close();
  broker_socket.close();
  other_socket.close();
  relay_socket.close();
}

}  // namespace punch_demo
