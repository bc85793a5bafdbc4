// The router: decides, when a datagram is sent, every link it crosses and every NAT box
// that translates or filters it, then schedules its arrival after the summed delays.
#include "punch/plugins/sim/network.hpp"

#include "delivery_queue.hpp"
#include "event_make.hpp"
#include "rng.hpp"
#include "socket.hpp"

#include <cstring>

namespace punch::sim {

struct network::route {
  std::uint64_t packet;
  endpoint src;
  endpoint dst;
  std::chrono::microseconds delay{0};
  // Whether the datagram went through a NAT box (loopback on one host does not).
  bool through_nat = false;
};

bool network::cross(const link& l, const std::string& owner, route& r) {
  // Draw only for links that have randomness, so that a plain link costs no draws.
  if (l.loss > 0.0 && rng_->chance(l.loss)) {
    emit(detail::datagram_event(event_kind::lost, r.packet, owner, r.src, r.dst));
    return false;
  }
  r.delay += l.latency;
  if (l.jitter.count() > 0) {
    r.delay += std::chrono::microseconds(
        static_cast<std::int64_t>(rng_->below(static_cast<std::uint64_t>(l.jitter.count()) + 1)));
  }
  return true;
}

void network::send(host& from, const endpoint& src, const endpoint& to,
                   boost::asio::const_buffer data) {
  // An IPv4-mapped IPv6 destination (what a dual-stack socket's owner may write) is IPv4.
  const endpoint dst = to.address().is_v6() && to.address().to_v6().is_v4_mapped()
                           ? endpoint(boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, to.address().to_v6()), to.port())
                           : to;
  route r{++last_packet_, src, dst};
  realm where = from.realm();
  // A dual-stack socket ("::") sends from the host's address of the destination's family;
  // one bound to an address keeps to that address's family, as a kernel's does.
  const auto unreachable_family = [&](std::string why) {
    emit(detail::datagram_event(event_kind::sent, r.packet, from.name(), src, dst, data.size()));
    emit(detail::datagram_event(event_kind::unreachable, r.packet, from.name(), src, dst, data.size(), std::move(why)));
  };
  const char* const family = dst.address().is_v4() ? "IPv4" : "IPv6";
  if (src.address().is_unspecified()) {
    if (from.address().is_v4() == dst.address().is_v4()) {
      r.src = endpoint(from.address(), src.port());
    } else if (from.second_address() && from.second_address()->address.is_v4() == dst.address().is_v4()) {
      r.src = endpoint(from.second_address()->address, src.port());
      where = from.second_address()->realm;
    } else {
      return unreachable_family(from.name() + " has no " + family + " address");
    }
  } else if (src.address().is_v4() != dst.address().is_v4()) {
    return unreachable_family("a socket bound to " + src.address().to_string() + " cannot send to " + family);
  } else if (from.second_address() && src.address() == from.second_address()->address) {
    where = from.second_address()->realm;
  }
  emit(detail::datagram_event(event_kind::sent, r.packet, from.name(), r.src, dst, data.size()));
  if (!cross(from.link(), from.name(), r)) return;

  // A datagram enters each realm at most twice (hairpin); more means a misbuilt topology.
  const std::size_t max_hops = 2 * realm_owner_.size() + 2;
  for (std::size_t hop = 0; hop < max_hops; ++hop) {
    if (host* h = host_at(where, r.dst.address())) {
      // Loopback on one host crosses its link once.
      if ((h != &from || r.through_nat) && !cross(h->link(), h->name(), r)) return;
      const auto* bytes = static_cast<const std::byte*>(data.data());
      deliveries_->schedule(time_->now() + r.delay,
                            {r.packet, h, r.src, r.dst, r.delay, {bytes, bytes + data.size()}});
      return;
    }
    if (nat_box* n = nat_at(where, r.dst.address())) {
      // Inbound: from the NAT's outside realm to its external address.
      if (!cross(n->uplink(), n->name(), r)) return;
      auto inside = n->inbound(r.src, r.dst, r.packet);
      if (!inside) return;
      r.dst = *inside;
      where = n->inside();
      r.through_nat = true;
      continue;
    }
    nat_box* owner = owner_of(where);
    if (!owner) {
      emit(detail::datagram_event(
          event_kind::unreachable, r.packet, from.name(), r.src, r.dst, data.size(),
          "nothing has address " + r.dst.address().to_string() + " in " + realm_name(where)));
      return;
    }
    if (r.dst.address() == owner->external_address()) {
      // RFC 4787 §6: an inside host addressed the NAT's own external address.
      if (!owner->behaviour().hairpinning) {
        emit(detail::datagram_event(event_kind::hairpin_dropped, r.packet, owner->name(), r.src,
                                    r.dst, data.size(), "hairpinning is off"));
        return;
      }
      // REQ-9: the source is translated too, so the receiver sees the external endpoint.
      auto outside_src = owner->outbound(r.src, r.dst, r.packet);
      if (!outside_src) return;
      auto inside_dst = owner->inbound(*outside_src, r.dst, r.packet);
      if (!inside_dst) return;
      emit(detail::datagram_event(event_kind::hairpinned, r.packet, owner->name(), *outside_src,
                                  *inside_dst, data.size()));
      r.src = *outside_src;
      r.dst = *inside_dst;
      r.through_nat = true;
      continue;
    }
    // Outbound: translate the source, then cross the NAT's uplink to its outside realm.
    auto outside_src = owner->outbound(r.src, r.dst, r.packet);
    if (!outside_src) return;
    r.src = *outside_src;
    r.through_nat = true;
    if (!cross(owner->uplink(), owner->name(), r)) return;
    where = owner->outside();
  }
  emit(detail::datagram_event(event_kind::unreachable, r.packet, from.name(), r.src, r.dst,
                              data.size(), "routing loop"));
}

void network::arrive(detail::delivery& d) {
  const std::size_t size = d.payload.size();
  auto kind = event_kind::delivered;
  auto it = d.to->ports_.find(d.dst.port());
  // A socket bound to one of a dual-stack host's addresses hears only that one.
  const auto bound = it == d.to->ports_.end() ? endpoint{} : it->second->local_endpoint();
  if (it == d.to->ports_.end() || (!bound.address().is_unspecified() && bound.address() != d.dst.address())) {
    kind = event_kind::no_socket;
  } else if (!it->second->deliver(d.from, std::move(d.payload))) {
    kind = event_kind::queue_full;
  }
  emit(detail::datagram_event(kind, d.packet, d.to->name(), d.from, d.dst, size, {}, d.delay));
}

}  // namespace punch::sim
