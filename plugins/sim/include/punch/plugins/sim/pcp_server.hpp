// A PCP server (RFC 6887) for a simulated NAT box, as a home router offers one: it answers MAP
// requests on the box's inside address, port 5351, and makes each mapping in the box itself
// (nat_box::map_explicitly) with the lifetime it grants. Its epoch counts from its start;
// restart() is a router reboot that loses its mappings and starts the epoch again, which
// clients notice at their next request (RFC 6887 §8.5).
//
//   auto& nat = net.add_nat("nat-a", net.internet(), make_address("198.51.100.1"), behaviour);
//   punch::sim::pcp_server pcp(net, nat, make_address("10.0.0.1"));
//   // sessions behind it: session_options::port_mapping.gateway = 10.0.0.1
#pragma once

#include "punch/plugins/sim/host.hpp"
#include "punch/plugins/sim/nat_box.hpp"
#include "punch/plugins/sim/network.hpp"

#include <chrono>
#include <cstdint>
#include <memory>

namespace punch::sim {

class pcp_server {
public:
  static constexpr std::uint16_t port = 5351;  // RFC 6887 §19.1

  // Adds a host "<nat>-pcp" at `inside_address` in nat.inside() (throws std::invalid_argument
  // if the address is taken) and starts answering. Grants at most `max_lifetime`.
  pcp_server(network& net, nat_box& nat, const boost::asio::ip::address& inside_address,
             std::chrono::seconds max_lifetime = std::chrono::hours(2));
  ~pcp_server();
  pcp_server(const pcp_server&) = delete;
  pcp_server& operator=(const pcp_server&) = delete;

  // The box reboots: every mapping it holds is lost (nat_box::reboot) and the epoch starts
  // again from 0.
  void restart();
  // Stops answering (the server crashed, or the router has PCP turned off); restart() does
  // not revive it.
  void stop();

  // Requests answered: MAP successes, deletions (lifetime 0) and error answers.
  struct counters {
    std::uint64_t granted = 0;
    std::uint64_t deleted = 0;
    std::uint64_t refused = 0;
  };
  const counters& stats() const noexcept;

private:
  struct state;
  std::shared_ptr<state> state_;
};

}  // namespace punch::sim
