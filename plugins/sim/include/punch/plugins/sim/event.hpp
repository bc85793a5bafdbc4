// What the simulated network tells its observers: one event per decision it takes.
#pragma once

#include <boost/asio/ip/udp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>

namespace punch::sim {

enum class event_kind {
  sent,             // a socket handed a datagram to the network
  delivered,        // a datagram reached a socket (queued or handed to a pending receive)
  lost,             // dropped by a link's loss probability
  mapping_created,  // a NAT box allocated an external endpoint (RFC 4787 §4.1)
  mapping_expired,  // a mapping outlived its lifetime without refresh (RFC 4787 §4.3)
  filtered,         // a NAT box dropped an inbound datagram (RFC 4787 §5)
  hairpinned,       // a NAT box looped a datagram back inside (RFC 4787 §6)
  hairpin_dropped,  // same, with hairpinning off: dropped
  unreachable,      // no host or NAT box owns the destination address in that realm
  no_socket,        // the destination host has no socket on that port
  queue_full,       // the destination socket's receive queue is full: dropped
};

std::string_view to_string(event_kind k) noexcept;

struct event {
  event_kind kind = event_kind::sent;
  // Network time since the network was created (includes advance_clock).
  std::chrono::nanoseconds at{0};
  // The datagram's number (1, 2, ... in send order); 0 for events not about one datagram.
  std::uint64_t packet = 0;
  // Where it happened: a host, a NAT box, or the owner of the link.
  std::string node;
  // The datagram's source and destination at that point (translated after each NAT).
  boost::asio::ip::udp::endpoint from;
  boost::asio::ip::udp::endpoint to;
  // Mapping events: the mapping's inside and external endpoints and the remote that made it.
  boost::asio::ip::udp::endpoint inside;
  boost::asio::ip::udp::endpoint external;
  boost::asio::ip::udp::endpoint remote;
  std::size_t bytes = 0;
  // Arrival events (delivered, no_socket, queue_full): the transit time the datagram was
  // given when sent, the sum of its links' latencies and jitter draws.
  std::chrono::microseconds delay{0};
  // Why (filtered, unreachable, ...), in words.
  std::string reason;

  // One line for humans, without the time (so that traces of two runs compare equal):
  // "#3 nat-b filtered 198.51.100.1:5000 -> 198.51.100.2:5000: APDF: ..."
  std::string to_string() const;
};

std::ostream& operator<<(std::ostream& out, const event& e);

}  // namespace punch::sim
