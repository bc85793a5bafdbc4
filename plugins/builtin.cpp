// Registers the transports that ship with punch: "udp" (real sockets) and "sim" (simulated
// network). Apps call register_builtins once, then pick a transport by name.
#include "punch/plugins/builtin.hpp"

#include "punch/plugins/sim.hpp"
#include "punch/plugins/udp.hpp"

namespace punch::plugins {

void register_builtins(transport_registry& registry) {
  registry.add("udp", "real UDP sockets (asio)", &punch::udp::make_transport);
  registry.add("sim", "simulated network, one host (options: seed, latency_ms, loss)",
               &punch::sim::make_transport);
}

}  // namespace punch::plugins
