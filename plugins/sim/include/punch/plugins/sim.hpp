// The "sim" transport: an in-process simulated network with RFC 4787 NAT boxes.
//
//   punch::sim::network net{ctx.get_executor(), /*seed=*/1};
//   auto& nat = net.add_nat("nat-a", net.internet(), make_address("198.51.100.1"),
//                           punch::sim::nat_behaviour::port_restricted_cone());
//   auto& alice = net.add_host("alice", nat.inside(), make_address("10.0.0.2"));
//   auto& server = net.add_host("server", net.internet(), make_address("203.0.113.10"));
//   punch::datagram_socket s = alice.transport().open({{}, 5000});
#pragma once

#include "punch/plugins/sim/event.hpp"
#include "punch/plugins/sim/host.hpp"
#include "punch/plugins/sim/nat_behaviour.hpp"
#include "punch/plugins/sim/nat_box.hpp"
#include "punch/plugins/sim/network.hpp"
#include "punch/plugins/sim/pcp_server.hpp"
#include "punch/plugins/sim/port_mapping_service.hpp"
#include "punch/plugins/sim/simulation.hpp"
#include "punch/plugins/sim/topology.hpp"
#include "punch/plugins/sim/virtual_clock.hpp"
#include "punch/transport_registry.hpp"

#include <memory>

namespace punch::sim {

// The address of the one host that make_transport() creates (RFC 5737 TEST-NET-1).
inline constexpr const char* default_host_address = "192.0.2.1";

// For the registry: a transport that owns a network of its own with one public host
// ("local", default_host_address). All its sockets live on that host, so they reach each
// other; a datagram between two of them crosses the host's link once.
// Options: seed (unsigned integer, default 1), latency_ms (>= 0, default 0),
// loss (in [0, 1], default 0). Anything else → errc::invalid_transport_option. Its network
// runs on the steady clock (real time), for apps that run their io_context as usual.
std::unique_ptr<punch::transport> make_transport(asio::any_io_executor ex,
                                                 const transport_options& options,
                                                 error_code& ec);

// The network behind a "sim" transport (a host's or make_transport()'s); nullptr for
// any other transport.
network* network_of(punch::transport& t) noexcept;

}  // namespace punch::sim
