// Private: building events (designated initialisers would trip -Wmissing-field-initializers).
#pragma once

#include "punch/plugins/sim/event.hpp"

#include <string>
#include <utility>

namespace punch::sim::detail {

using udp_endpoint = boost::asio::ip::udp::endpoint;

// An event about a datagram going from `from` to `to`.
inline event datagram_event(event_kind kind, std::uint64_t packet, std::string node,
                            const udp_endpoint& from, const udp_endpoint& to,
                            std::size_t bytes = 0, std::string reason = {},
                            std::chrono::microseconds delay = {}) {
  event e;
  e.kind = kind;
  e.packet = packet;
  e.node = std::move(node);
  e.from = from;
  e.to = to;
  e.bytes = bytes;
  e.reason = std::move(reason);
  e.delay = delay;
  return e;
}

// An event about a NAT mapping.
inline event mapping_event(event_kind kind, std::uint64_t packet, std::string node,
                           const udp_endpoint& inside, const udp_endpoint& external,
                           const udp_endpoint& remote) {
  event e;
  e.kind = kind;
  e.packet = packet;
  e.node = std::move(node);
  e.inside = inside;
  e.external = external;
  e.remote = remote;
  return e;
}

}  // namespace punch::sim::detail
