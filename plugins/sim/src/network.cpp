// The network's topology (realms, hosts, NAT boxes), its clock and its event stream.
// Routing lives in router.cpp.
#include "punch/plugins/sim/network.hpp"

#include "delivery_queue.hpp"
#include "link_check.hpp"
#include "rng.hpp"
#include "socket.hpp"

#include <algorithm>
#include <stdexcept>

namespace punch::sim {

network::network(boost::asio::any_io_executor ex, std::uint64_t seed) : network(std::move(ex), seed, virtual_) {}

network::network(boost::asio::any_io_executor ex, std::uint64_t seed, punch::clock& time)
    : executor_(std::move(ex)),
      seed_(seed),
      rng_(std::make_unique<detail::rng>(seed)),
      time_(&time),
      created_(time.now()),
      deliveries_(std::make_unique<detail::delivery_queue>(*this, executor_, time)) {}

network::~network() {
  // Datagrams in flight point at hosts: drop them first.
  deliveries_.reset();
  hosts_.clear();
}

void network::check_free(realm r, const boost::asio::ip::address& a,
                         std::string_view name) const {
  if (r.id >= realm_owner_.size()) {
    throw std::invalid_argument("sim: " + std::string(name) + ": no such realm");
  }
  const bool host_named = host_names_.contains(name);
  const bool nat_named = nat_names_.contains(name);
  if (name.empty() || host_named || nat_named) {
    throw std::invalid_argument("sim: the name \"" + std::string(name) +
                                "\" is empty or already taken");
  }
  if (a.is_unspecified() || a.is_multicast()) {
    throw std::invalid_argument("sim: " + std::string(name) + ": " + a.to_string() +
                                " cannot be a host address");
  }
  if (host_at(r, a) || nat_at(r, a)) {
    throw std::invalid_argument("sim: " + std::string(name) + ": " + a.to_string() +
                                " is already used in " + realm_name(r));
  }
}

host& network::add_host(std::string name, realm where, const boost::asio::ip::address& address,
                        const link& l) {
  check_free(where, address, name);
  // The constructor is private to the network: no make_unique.
  hosts_.push_back(std::unique_ptr<host>(new host(*this, std::move(name), where, address, l)));
  host* h = hosts_.back().get();
  host_names_.emplace(h->name(), h);
  host_places_.emplace(place{where.id, address}, h);
  return *h;
}

void network::move_host(host& h, const boost::asio::ip::address& address) {
  if (address.is_unspecified() || address.is_multicast() || host_at(h.realm(), address) || nat_at(h.realm(), address))
    throw std::invalid_argument("sim: " + h.name() + " cannot move to " + address.to_string() + " in " +
                                realm_name(h.realm()));
  host_places_.erase(place{h.realm().id, h.address()});
  h.address_ = address;
  host_places_.emplace(place{h.realm().id, address}, &h);
  // Sockets bound to the old address follow it; those on "::" stay dual-stack.
  for (auto& [port, s] : h.ports_)
    if (!s->local_endpoint().address().is_unspecified()) s->move_to(address);
}

void network::add_address(host& h, realm where, const boost::asio::ip::address& address) {
  if (address.is_v4() == h.address().is_v4() || h.second_)
    throw std::invalid_argument("sim: " + h.name() + " already has an address of that family");
  if (where.id >= realm_owner_.size()) throw std::invalid_argument("sim: " + h.name() + ": no such realm");
  if (address.is_unspecified() || address.is_multicast() || host_at(where, address) || nat_at(where, address))
    throw std::invalid_argument("sim: " + h.name() + ": " + address.to_string() + " is not free in " + realm_name(where));
  h.second_ = host::attachment{where, address};
  host_places_.emplace(place{where.id, address}, &h);
}

nat_box& network::add_nat(std::string name, realm outside,
                          const boost::asio::ip::address& external,
                          const nat_behaviour& behaviour, const link& uplink) {
  check_free(outside, external, name);
  detail::check_link(uplink, name);
  if (behaviour.port_min == 0 || behaviour.port_min > behaviour.port_max) {
    throw std::invalid_argument("sim: " + name + ": the port range must be within 1-65535");
  }
  if (behaviour.mapping_lifetime.count() <= 0) {
    throw std::invalid_argument("sim: " + name + ": the mapping lifetime must be positive");
  }
  const realm inside{static_cast<std::uint32_t>(realm_owner_.size())};
  nats_.push_back(std::unique_ptr<nat_box>(
      new nat_box(*this, std::move(name), outside, inside, external, behaviour, uplink)));
  nat_box* n = nats_.back().get();
  realm_owner_.push_back(n);
  nat_names_.emplace(n->name(), n);
  nat_places_.emplace(place{outside.id, external}, n);
  return *n;
}

host* network::find_host(std::string_view name) noexcept {
  auto it = host_names_.find(name);
  return it == host_names_.end() ? nullptr : it->second;
}

nat_box* network::find_nat(std::string_view name) noexcept {
  auto it = nat_names_.find(name);
  return it == nat_names_.end() ? nullptr : it->second;
}

std::string network::realm_name(realm r) const {
  if (r.id == 0) return "the internet";
  if (r.id < realm_owner_.size()) return "the inside of " + realm_owner_[r.id]->name();
  return "realm " + std::to_string(r.id);
}

host* network::host_at(realm r, const boost::asio::ip::address& a) const noexcept {
  auto it = host_places_.find(place{r.id, a});
  return it == host_places_.end() ? nullptr : it->second;
}

nat_box* network::nat_at(realm r, const boost::asio::ip::address& a) const noexcept {
  auto it = nat_places_.find(place{r.id, a});
  return it == nat_places_.end() ? nullptr : it->second;
}

nat_box* network::owner_of(realm r) const noexcept {
  return r.id < realm_owner_.size() ? realm_owner_[r.id] : nullptr;
}

punch::clock::time_point network::now() const noexcept { return time_->now() + offset_; }

void network::advance_clock(punch::clock::duration d) {
  if (d.count() < 0) throw std::invalid_argument("sim: the clock only moves forward");
  if (time_ == &virtual_)
    virtual_.advance(d);
  else
    offset_ += d;
}

void network::on_event(event_handler h) { handlers_.push_back(std::move(h)); }

void network::keep_trace(std::size_t max_events) {
  trace_limit_ = max_events;
  while (trace_.size() > trace_limit_) trace_.pop_front();
}

std::size_t network::datagrams_in_flight() const noexcept { return deliveries_->size(); }

void network::emit(event e) {
  e.at = elapsed();
  if (trace_limit_ != 0) {
    if (trace_.size() == trace_limit_) trace_.pop_front();
    trace_.push_back(e);
  }
  // By index: a handler may add another handler while we iterate.
  for (std::size_t i = 0; i < handlers_.size(); ++i) handlers_[i](e);
}

}  // namespace punch::sim
