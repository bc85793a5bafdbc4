// A simulated home router's port mapping services (tests): any subset of PCP, NAT-PMP and UPnP
// IGD answering at 10.0.0.1 inside a NAT box, as sim_world's peer hosts see their gateway.
#pragma once

#include "punch/plugins/sim.hpp"
#include "punch/session.hpp"

#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace punch::test {

// Which protocols the router speaks.
struct router_offers {
  bool pcp = false;
  bool natpmp = false;
  bool upnp = false;
};

// One protocol by its name ("pcp", "natpmp", "upnp").
inline router_offers offering(const std::string& protocol) {
  return {protocol == "pcp", protocol == "natpmp", protocol == "upnp"};
}

struct home_router {
  static boost::asio::ip::address address() { return boost::asio::ip::make_address("10.0.0.1"); }

  // `service` tunes NAT-PMP and UPnP (refusals, leases); its natpmp/upnp flags come from `offers`.
  home_router(sim::network& net, sim::nat_box& nat, router_offers offers, sim::port_mapping_service_options service = {},
              std::chrono::seconds max_lifetime = std::chrono::hours(2)) {
    if (offers.pcp) pcp.emplace(net, nat, address(), max_lifetime);
    if (offers.natpmp || offers.upnp) {
      service.natpmp = offers.natpmp;
      service.upnp = offers.upnp;
      service.max_lifetime = max_lifetime;
      mapping.emplace(net, nat, address(), service);
    }
  }

  // Session options that ask this router.
  static session_options asked_by(session_options o) {
    o.port_mapping.gateway = address();
    return o;
  }

  std::optional<sim::pcp_server> pcp;
  std::optional<sim::port_mapping_service> mapping;
};

}  // namespace punch::test
