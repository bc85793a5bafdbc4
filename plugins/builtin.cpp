// Registers the transports that ship with punch: "udp" (real sockets) and "sim" (simulated
// network). Apps call register_builtins once, then pick a transport by name.
#include "punch/plugins/builtin.hpp"

#include "punch/plugins/udp.hpp"

// TODO(sim): drop the local declaration once plugins/sim/include/punch/plugins/sim.hpp lands.
#if __has_include("punch/plugins/sim.hpp")
#include "punch/plugins/sim.hpp"
#else
namespace punch::sim {
std::unique_ptr<transport> make_transport(asio::any_io_executor ex,
                                          const transport_options& options, error_code& ec);
}  // namespace punch::sim
#endif

namespace punch::plugins {

void register_builtins(transport_registry& registry) {
  registry.add("udp", "real UDP sockets (asio)", &punch::udp::make_transport);
  registry.add("sim", "simulated network with RFC 4787 NAT boxes, links with loss and latency",
               &punch::sim::make_transport);
}

}  // namespace punch::plugins
