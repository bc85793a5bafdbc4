// The simulated router's NAT-PMP and UPnP IGD answers: the explicit mapping made in its NAT
// box, with each protocol's lifetime, epoch and refusal semantics (port_mapping_service.hpp).
#include "punch/plugins/sim/port_mapping_service.hpp"

#include "punch/plugins/sim/network.hpp"

#include <algorithm>
#include <stdexcept>

namespace punch::sim {

namespace {

// RFC 6886 §3.5 and UPnP IGD's error codes.
constexpr int natpmp_out_of_resources = 4;
constexpr int upnp_conflict_in_mapping_entry = 718;
constexpr int upnp_only_permanent_leases = 725;
// A permanent UPnP lease: the explicit mapping outlives any simulation.
constexpr std::chrono::seconds permanent = std::chrono::hours(24 * 365);

}  // namespace

port_mapping_service::port_mapping_service(network& net, nat_box& nat, const asio::ip::address& inside_address,
                                           port_mapping_service_options options)
    : net_(net), nat_(nat), address_(inside_address), options_(options), started_(net.now()) {
  const network::place where{nat.inside().id, inside_address};
  if (!net_.mapping_services_.emplace(where, this).second)
    throw std::invalid_argument("a port mapping service answers at " + inside_address.to_string() + " already");
}

port_mapping_service::~port_mapping_service() { net_.mapping_services_.erase({nat_.inside().id, address_}); }

void port_mapping_service::restart() {
  nat_.reboot();
  started_ = net_.now();
}

void port_mapping_service::stop() { stopped_ = true; }

std::optional<port_mapping_answer> port_mapping_service::answer(const port_mapping_query& q,
                                                                const asio::ip::address& asker) {
  if (stopped_) return std::nullopt;
  // The router maps for the packet's source, whatever the query says (RFC 6886 §3.3).
  const endpoint inside(asker, q.internal_port);
  if (q.protocol == "natpmp" && options_.natpmp) return natpmp(q, inside);
  if (q.protocol == "upnp" && options_.upnp) return upnp(q, inside);
  return std::nullopt;
}

port_mapping_answer port_mapping_service::natpmp(const port_mapping_query& q, const endpoint& inside) {
  port_mapping_answer a;
  a.epoch = std::chrono::duration_cast<std::chrono::seconds>(net_.now() - started_);
  if (options_.natpmp_result != 0) {
    ++natpmp_.refused;
    a.result = options_.natpmp_result;
    return a;
  }
  if (q.lifetime.count() == 0) {
    // RFC 6886 §3.4: lifetime 0 deletes; the answer's port is 0.
    ++natpmp_.deleted;
    nat_.unmap(inside);
    a.external = endpoint(nat_.external_address(), 0);
    return a;
  }
  const auto alive = std::ranges::any_of(nat_.explicit_mappings(), [&](const auto& m) { return m.inside == inside; });
  const auto granted = std::min(q.lifetime, options_.max_lifetime);
  const auto external = nat_.map_explicitly(inside, q.suggested_external_port, granted);
  if (!external) {
    ++natpmp_.refused;
    a.result = natpmp_out_of_resources;
    return a;
  }
  ++natpmp_.granted;
  if (alive) ++natpmp_.renewed;
  a.external = *external;
  a.lifetime = granted;
  return a;
}

port_mapping_answer port_mapping_service::upnp(const port_mapping_query& q, const endpoint& inside) {
  port_mapping_answer a;  // no epoch: UPnP does not tell a restart
  const auto port = q.suggested_external_port ? q.suggested_external_port : q.internal_port;
  const auto mappings = nat_.explicit_mappings();
  if (q.remove) {
    ++upnp_.deleted;
    if (std::ranges::any_of(mappings, [&](const auto& m) { return m.inside == inside && m.external.port() == port; }))
      nat_.unmap(inside);
    return a;
  }
  const auto refuse = [&](int code) {
    ++upnp_.refused;
    a.result = code;
    return a;
  };
  if (options_.upnp_error != 0) return refuse(options_.upnp_error);
  if (options_.upnp_permanent_only && q.lifetime.count() != 0) return refuse(upnp_only_permanent_leases);
  // The port forwarded to another inside endpoint already: AddPortMapping's conflict.
  if (std::ranges::any_of(mappings, [&](const auto& m) { return m.external.port() == port && m.inside != inside; }))
    return refuse(upnp_conflict_in_mapping_entry);
  const bool alive = std::ranges::any_of(mappings, [&](const auto& m) { return m.inside == inside; });
  const auto lease = q.lifetime.count() == 0 ? std::chrono::seconds(0) : std::min(q.lifetime, options_.max_lifetime);
  // The port asked when free, else one the box picks (IGD v2's AddAnyPortMapping).
  const auto external = nat_.map_explicitly(inside, port, lease.count() == 0 ? permanent : lease);
  if (!external) return refuse(upnp_conflict_in_mapping_entry);
  ++upnp_.granted;
  if (alive) ++upnp_.renewed;
  a.external = *external;
  a.lifetime = lease;
  return a;
}

}  // namespace punch::sim
