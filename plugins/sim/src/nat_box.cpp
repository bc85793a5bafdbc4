// NAT boxes: the translation table, RFC 4787 mapping (§4.1), port allocation (§4.2),
// lifetime and refresh (§4.3) and filtering (§5).
#include "punch/plugins/sim/nat_box.hpp"

#include "event_make.hpp"
#include "link_check.hpp"
#include "punch/plugins/sim/network.hpp"
#include "rng.hpp"

#include <algorithm>

namespace punch::sim {

nat_box::nat_box(network& net, std::string name, realm outside, realm inside,
                 boost::asio::ip::address external, const nat_behaviour& behaviour,
                 const sim::link& uplink)
    : network_(net),
      name_(std::move(name)),
      outside_(outside),
      inside_(inside),
      external_(external),
      behaviour_(behaviour),
      uplink_(uplink),
      next_port_(behaviour.port_min) {}

void nat_box::set_uplink(const sim::link& l) {
  detail::check_link(l, name_);
  uplink_ = l;
}

std::vector<nat_box::mapping> nat_box::mappings() const {
  const auto now = network_.now();
  std::vector<mapping> out;
  for (const auto& [port, e] : by_port_) {
    if (e.expires > now) out.push_back({e.inside, {external_, port}, e.remote, e.expires});
  }
  return out;
}

nat_box::flow_key nat_box::key_for(const endpoint& from, const endpoint& to) const {
  // RFC 4787 §4.1: which part of the destination selects the mapping.
  switch (behaviour_.mapping) {
    case mapping_behaviour::endpoint_independent: return {from, {}, 0};
    case mapping_behaviour::address_dependent: return {from, to.address(), 0};
    case mapping_behaviour::address_and_port_dependent: return {from, to.address(), to.port()};
  }
  return {from, to.address(), to.port()};
}

void nat_box::expire_old() {
  // Lazy: lifetimes are checked against network::now() whenever a datagram crosses the box.
  const auto now = network_.now();
  for (auto it = by_port_.begin(); it != by_port_.end();) {
    const entry& e = it->second;
    if (e.expires > now) {
      ++it;
      continue;
    }
    network_.emit(detail::mapping_event(event_kind::mapping_expired, 0, name_, e.inside,
                                        {external_, it->first}, e.remote));
    if (e.is_explicit)
      explicit_.erase(e.inside);
    else
      by_flow_.erase(key_for(e.inside, e.remote));
    it = by_port_.erase(it);
  }
}

void nat_box::reboot() {
  for (const auto& [port, e] : by_port_) {
    auto ev = detail::mapping_event(event_kind::mapping_expired, 0, name_, e.inside, {external_, port}, e.remote);
    ev.reason = "rebooted";
    network_.emit(std::move(ev));
  }
  by_port_.clear();
  by_flow_.clear();
  explicit_.clear();
  // A prime stride, far from the few ports a test uses.
  const std::uint32_t range = std::uint32_t{behaviour_.port_max} - behaviour_.port_min + 1;
  port_shift_ = (port_shift_ + 7919) % range;
  next_port_ = static_cast<std::uint16_t>(behaviour_.port_min + (next_port_ - behaviour_.port_min + 7919) % range);
}

std::optional<std::uint16_t> nat_box::allocate_port(std::uint16_t inside_port) {
  const std::uint32_t lo = behaviour_.port_min;
  const std::uint32_t range = std::uint32_t{behaviour_.port_max} - lo + 1;
  if (by_port_.size() >= range) return std::nullopt;
  // The first free port at or after offset `start` from port_min, wrapping in the range.
  auto first_free = [&](std::uint32_t start) {
    for (std::uint32_t i = 0;; ++i) {
      const auto p = static_cast<std::uint16_t>(lo + (start + i) % range);
      if (!by_port_.contains(p)) return p;
    }
  };
  const bool in_range = inside_port >= lo && inside_port <= behaviour_.port_max;
  switch (behaviour_.ports) {
    case port_allocation::preserve: {
      // After a reboot the box no longer preserves the same port (port_shift_).
      const auto wanted = static_cast<std::uint16_t>(lo + (inside_port - lo + port_shift_) % range);
      if (in_range && !by_port_.contains(wanted)) return wanted;
      // RFC 4787 §4.2.1: preservation is best effort; take the next free port above.
      return first_free(in_range ? wanted - lo + 1 : 0);
    }
    case port_allocation::sequential: {
      const std::uint16_t p = first_free(next_port_ - lo);
      next_port_ = static_cast<std::uint16_t>(lo + (p - lo + 1) % range);
      return p;
    }
    case port_allocation::random: {
      // RFC 6056 style: a few random probes, then the next free port after the last one.
      std::uint32_t offset = 0;
      for (int attempt = 0; attempt < 16; ++attempt) {
        offset = static_cast<std::uint32_t>(network_.rng().below(range));
        const auto p = static_cast<std::uint16_t>(lo + offset);
        if (!by_port_.contains(p)) return p;
      }
      return first_free(offset);
    }
  }
  return std::nullopt;
}

std::optional<nat_box::endpoint> nat_box::outbound(const endpoint& from, const endpoint& to,
                                                   std::uint64_t packet) {
  expire_old();
  const auto now = network_.now();
  // RFC 6887 §11.1: an explicit mapping carries all of its inside endpoint's traffic.
  if (auto x = explicit_.find(from); x != explicit_.end()) {
    by_port_[x->second].contacted.insert(to);
    return endpoint(external_, x->second);
  }
  const flow_key key = key_for(from, to);
  auto flow = by_flow_.find(key);
  std::uint16_t port = 0;
  if (flow != by_flow_.end()) {
    port = flow->second;
  } else {
    auto allocated = allocate_port(from.port());
    if (!allocated) {
      network_.emit(detail::datagram_event(event_kind::filtered, packet, name_, from, to, 0,
                                           "no free external port for a new mapping"));
      return std::nullopt;
    }
    port = *allocated;
    by_port_[port] = entry{from, to, now, {}};
    by_flow_[key] = port;
    network_.emit(detail::mapping_event(event_kind::mapping_created, packet, name_, from,
                                        {external_, port}, to));
  }
  entry& e = by_port_[port];
  // RFC 4787 §4.3 REQ-6: outbound traffic refreshes the mapping.
  e.expires = now + behaviour_.mapping_lifetime;
  // RFC 4787 §5: sending to a remote is what lets it answer through filtering.
  e.contacted.insert(to);
  return endpoint(external_, port);
}

std::string nat_box::filter_reason(const entry& e, const endpoint& from) const {
  std::string who = e.inside.address().to_string() + ":" + std::to_string(e.inside.port());
  if (behaviour_.filtering == filtering_behaviour::address_dependent) {
    return "address-dependent filtering (RFC 4787 §5): " + who + " has not sent to " +
           from.address().to_string();
  }
  return "address-and-port-dependent filtering (RFC 4787 §5): " + who + " has not sent to " +
         from.address().to_string() + ":" + std::to_string(from.port());
}

std::optional<nat_box::endpoint> nat_box::inbound(const endpoint& from, const endpoint& to,
                                                  std::uint64_t packet) {
  expire_old();
  auto it = by_port_.find(to.port());
  if (it == by_port_.end()) {
    network_.emit(detail::datagram_event(event_kind::filtered, packet, name_, from, to, 0,
                                         "no mapping on port " + std::to_string(to.port())));
    return std::nullopt;
  }
  entry& e = it->second;
  // Port forwarding: anyone may send to an explicit mapping.
  if (e.is_explicit) return e.inside;
  bool allowed = true;
  switch (behaviour_.filtering) {
    case filtering_behaviour::endpoint_independent: break;
    case filtering_behaviour::address_dependent:
      allowed = std::any_of(e.contacted.begin(), e.contacted.end(),
                            [&](const endpoint& c) { return c.address() == from.address(); });
      break;
    case filtering_behaviour::address_and_port_dependent:
      allowed = e.contacted.contains(from);
      break;
  }
  if (!allowed) {
    network_.emit(detail::datagram_event(event_kind::filtered, packet, name_, from, to, 0,
                                         filter_reason(e, from)));
    return std::nullopt;
  }
  // RFC 4787 §4.3: inbound refresh is optional.
  if (behaviour_.inbound_refreshes) e.expires = network_.now() + behaviour_.mapping_lifetime;
  return e.inside;
}

std::optional<nat_box::endpoint> nat_box::map_explicitly(const endpoint& inside, std::uint16_t suggested,
                                                         std::chrono::seconds lifetime) {
  expire_old();
  const auto now = network_.now();
  if (auto x = explicit_.find(inside); x != explicit_.end()) {
    by_port_[x->second].expires = now + lifetime;
    return endpoint(external_, x->second);
  }
  std::optional<std::uint16_t> port;
  if (suggested >= behaviour_.port_min && suggested <= behaviour_.port_max && !by_port_.contains(suggested))
    port = suggested;
  else
    port = allocate_port(inside.port());
  if (!port) return std::nullopt;
  entry e{inside, {}, now + lifetime, {}};
  e.is_explicit = true;
  by_port_[*port] = std::move(e);
  explicit_[inside] = *port;
  network_.emit(detail::mapping_event(event_kind::mapping_created, 0, name_, inside, {external_, *port}, {}));
  return endpoint(external_, *port);
}

bool nat_box::unmap(const endpoint& inside) {
  auto x = explicit_.find(inside);
  if (x == explicit_.end()) return false;
  auto ev = detail::mapping_event(event_kind::mapping_expired, 0, name_, inside, {external_, x->second}, {});
  ev.reason = "deleted";
  network_.emit(std::move(ev));
  by_port_.erase(x->second);
  explicit_.erase(x);
  return true;
}

std::vector<nat_box::mapping> nat_box::explicit_mappings() const {
  const auto now = network_.now();
  std::vector<mapping> out;
  for (const auto& [port, e] : by_port_)
    if (e.is_explicit && e.expires > now) out.push_back({e.inside, {external_, port}, e.remote, e.expires});
  return out;
}

}  // namespace punch::sim
