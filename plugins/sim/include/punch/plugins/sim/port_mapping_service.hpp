// A simulated NAT box's NAT-PMP (RFC 6886) and UPnP IGD service, as home routers offer them,
// answering sessions through their sim transport (punch::transport::async_map_port): the real
// clients (libnatpmp, miniupnpc) speak over the operating system's sockets, which do not reach
// a simulated network. Each grant is an explicit mapping in the box (nat_box::map_explicitly).
//
// What each protocol's semantics come to here:
// - NAT-PMP: the lifetime granted (at most max_lifetime), 0 deletes; every answer carries the
//   epoch, seconds since the service (re)started, which restart() sets back to 0; a refusal is
//   a result code (2 not authorized, 4 out of resources).
// - UPnP IGD: AddPortMapping of the external port asked (the internal one when none is), a
//   lease (at most max_lifetime; 0 is permanent); no epoch, so a restart is not signalled; a
//   port held by another inside endpoint is 718 ConflictInMappingEntry, and a router that keeps
//   only permanent leases answers 725 OnlyPermanentLeasesSupported to a lease that is not 0.
// An answer arrives after the asking host's link's round trip; a protocol not offered (or a
// stopped service) never answers: errc::port_mapping_unanswered at the query's timeout.
//
//   auto& nat = net.add_nat("nat-a", net.internet(), make_address("198.51.100.1"), behaviour);
//   punch::sim::port_mapping_service igd(net, nat, make_address("10.0.0.1"), {.natpmp = false});
//   // sessions behind it: session_options::port_mapping.gateway = 10.0.0.1
// A router that speaks PCP too has a pcp_server at the same address.
#pragma once

#include "punch/plugins/sim/nat_box.hpp"
#include "punch/transport.hpp"

#include <chrono>
#include <cstdint>
#include <memory>

namespace punch::sim {

class network;

struct port_mapping_service_options {
  bool natpmp = true;
  bool upnp = true;
  std::chrono::seconds max_lifetime = std::chrono::hours(2);
  int natpmp_result = 0;              // not 0: every NAT-PMP request refused with this result code
  int upnp_error = 0;                 // not 0: every AddPortMapping refused with this error code
  bool upnp_permanent_only = false;   // 725 to a lease that is not 0
};

class port_mapping_service {
public:
  // Answers at `inside_address` in nat.inside(), an address no host needs (a pcp_server may
  // share it). Throws std::invalid_argument if another service answers there.
  port_mapping_service(network& net, nat_box& nat, const asio::ip::address& inside_address,
                       port_mapping_service_options options = {});
  ~port_mapping_service();
  port_mapping_service(const port_mapping_service&) = delete;
  port_mapping_service& operator=(const port_mapping_service&) = delete;

  // The router reboots: its mappings are lost (nat_box::reboot) and NAT-PMP's epoch restarts at 0.
  void restart();
  // Stops answering either protocol.
  void stop();

  // Requests answered, per protocol: grants (first or renewed), deletions, refusals.
  struct counters {
    std::uint64_t granted = 0;
    std::uint64_t renewed = 0;  // of the grants, those of a mapping that was still alive
    std::uint64_t deleted = 0;
    std::uint64_t refused = 0;
  };
  const counters& natpmp_stats() const noexcept { return natpmp_; }
  const counters& upnp_stats() const noexcept { return upnp_; }

  // The answer to `query` from `asker` (the sim transport's call); nullopt: not answered.
  std::optional<port_mapping_answer> answer(const port_mapping_query& query, const asio::ip::address& asker);

private:
  port_mapping_answer natpmp(const port_mapping_query& q, const endpoint& inside);
  port_mapping_answer upnp(const port_mapping_query& q, const endpoint& inside);

  network& net_;
  nat_box& nat_;
  asio::ip::address address_;
  port_mapping_service_options options_;
  punch::clock::time_point started_;
  bool stopped_ = false;
  counters natpmp_, upnp_;
};

}  // namespace punch::sim
