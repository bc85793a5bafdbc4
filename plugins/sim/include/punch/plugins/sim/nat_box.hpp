// A simulated NAT box: an external address in its outside realm, its own inside realm, and
// a translation table that follows the RFC 4787 behaviours it was given.
#pragma once

#include "punch/plugins/sim/nat_behaviour.hpp"
#include "punch/plugins/sim/topology.hpp"

#include <boost/asio/ip/udp.hpp>

#include <chrono>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace punch::sim {

class network;

class nat_box {
public:
  using endpoint = boost::asio::ip::udp::endpoint;

  // One row of the translation table.
  struct mapping {
    endpoint inside;    // the private endpoint that sent
    endpoint external;  // what the outside sees
    endpoint remote;    // the destination whose datagram created the mapping
    clock::time_point expires;
  };

  nat_box(const nat_box&) = delete;
  nat_box& operator=(const nat_box&) = delete;

  const std::string& name() const noexcept { return name_; }
  const boost::asio::ip::address& external_address() const noexcept { return external_; }
  realm outside() const noexcept { return outside_; }
  realm inside() const noexcept { return inside_; }
  const nat_behaviour& behaviour() const noexcept { return behaviour_; }

  // The link between this box and its outside realm (crossed by outbound and inbound
  // datagrams, not by hairpinned ones). Throws std::invalid_argument on bad values.
  const sim::link& uplink() const noexcept { return uplink_; }
  void set_uplink(const sim::link& l);

  // The mappings alive at network::now(), in external port order.
  std::vector<mapping> mappings() const;

  // An explicit mapping (port forwarding, what PCP MAP or UPnP's AddPortMapping makes): every
  // datagram to the external port reaches `inside`, whoever sends it (no filtering), and
  // every datagram `inside` sends leaves from that port, whatever its destination (RFC 6887
  // §11.1: the mapping is endpoint-independent). Lasts `lifetime` from now, not refreshed by
  // traffic; asking again for the same `inside` renews it on the same port. `suggested` (0:
  // none) is taken when free. nullopt when no port is free.
  std::optional<endpoint> map_explicitly(const endpoint& inside, std::uint16_t suggested, std::chrono::seconds lifetime);
  // Deletes the explicit mapping of `inside`; false when there was none.
  bool unmap(const endpoint& inside);
  // The explicit mappings alive now, in external port order.
  std::vector<mapping> explicit_mappings() const;

  // Forgets every mapping at once, as a home router does when it reboots (or as the outside
  // sees a phone that changed networks): each is reported as expired ("rebooted"), and the
  // mappings made afterwards take other external ports than before, port preservation
  // included. Connections through the box must find their peers again.
  void reboot();

private:
  friend class network;

  struct entry {
    endpoint inside;
    endpoint remote;
    clock::time_point expires;
    // Remotes this mapping has sent to: the permissions RFC 4787 §5 filtering checks.
    std::set<endpoint> contacted;
    bool is_explicit = false;  // map_explicitly's: no filtering, no refresh by traffic
  };
  // The part of a flow that selects a mapping (RFC 4787 §4.1): unused parts are zero.
  using flow_key = std::tuple<endpoint, boost::asio::ip::address, std::uint16_t>;

  nat_box(network& net, std::string name, realm outside, realm inside,
          boost::asio::ip::address external, const nat_behaviour& behaviour,
          const sim::link& uplink);

  // Translates an outbound datagram's source, creating or refreshing its mapping;
  // nullopt (and an event) when no external port is free.
  std::optional<endpoint> outbound(const endpoint& from, const endpoint& to,
                                   std::uint64_t packet);
  // Filters an inbound datagram and finds the inside endpoint; nullopt (and an event)
  // when the datagram is dropped.
  std::optional<endpoint> inbound(const endpoint& from, const endpoint& to,
                                  std::uint64_t packet);

  flow_key key_for(const endpoint& from, const endpoint& to) const;
  void expire_old();
  std::optional<std::uint16_t> allocate_port(std::uint16_t inside_port);
  std::string filter_reason(const entry& e, const endpoint& from) const;

  network& network_;
  std::string name_;
  realm outside_;
  realm inside_;
  boost::asio::ip::address external_;
  nat_behaviour behaviour_;
  sim::link uplink_;
  std::map<std::uint16_t, entry> by_port_;
  std::map<flow_key, std::uint16_t> by_flow_;
  std::map<endpoint, std::uint16_t> explicit_;  // inside endpoint → its explicit mapping's port
  std::uint16_t next_port_;
  // Added to preserved and sequential ports after each reboot(), so that they differ.
  std::uint32_t port_shift_ = 0;
};

}  // namespace punch::sim
