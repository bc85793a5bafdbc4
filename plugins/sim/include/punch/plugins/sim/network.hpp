// The simulated network: realms, hosts and NAT boxes on the caller's io_context.
//
// Single-threaded and deterministic by seed: every random decision (loss, jitter, random
// NAT ports) is drawn from one RNG when a datagram is sent, in send order. A datagram's
// whole path (links, NAT translations, filtering) is decided when it is sent; only its
// arrival waits, on a timer of the network's clock, for the sum of the delays of the links it
// crosses. That clock is virtual unless the network is given another one: run the io_context
// with sim::run (simulation.hpp), which moves it on whenever nothing else is ready.
// So NAT state is consulted at send time: a datagram races only with datagrams sent
// before it, never with ones sent while it is "on the wire".
#pragma once

#include "punch/plugins/sim/event.hpp"
#include "punch/plugins/sim/host.hpp"
#include "punch/plugins/sim/nat_box.hpp"
#include "punch/plugins/sim/topology.hpp"
#include "punch/plugins/sim/virtual_clock.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace punch::sim {

class port_mapping_service;

namespace detail {
class host_transport;
struct delivery;
class delivery_queue;
class rng;
}  // namespace detail

class network {
public:
  using endpoint = boost::asio::ip::udp::endpoint;
  using event_handler = std::function<void(const event&)>;

  // Time is virtual: the network's own virtual_clock (virtual_time()), which sim::run moves.
  network(boost::asio::any_io_executor ex, std::uint64_t seed);
  // Time is `time`, e.g. punch::steady_clock() for a demo that runs in real time under
  // io_context::run(); it must outlive the network.
  network(boost::asio::any_io_executor ex, std::uint64_t seed, punch::clock& time);
  network(const network&) = delete;
  network& operator=(const network&) = delete;
  // Closes every socket (pending operations: operation_aborted) and drops datagrams in
  // flight. Destroy the network before its io_context.
  ~network();

  boost::asio::any_io_executor get_executor() const { return executor_; }
  std::uint64_t seed() const noexcept { return seed_; }

  // The public internet: the root realm.
  realm internet() const noexcept { return realm{0}; }

  // Adds a host with `address` in realm `where`. Throws std::invalid_argument if the name
  // is taken or the address is already used in that realm.
  host& add_host(std::string name, realm where, const boost::asio::ip::address& address,
                 const link& l = {});
  // Adds a NAT box whose external address is in `outside`; its inside realm is new
  // (nat.inside()). `outside` may be another NAT's inside: NAT behind NAT.
  nat_box& add_nat(std::string name, realm outside, const boost::asio::ip::address& external,
                   const nat_behaviour& behaviour, const link& uplink = {});

  // Gives `h` another (first) address in its realm, as when a machine gets a new DHCP lease or
  // a phone a new address from its carrier: its open sockets stay open (those bound to the old
  // address now to the new one, those on "::" stay so) and send from the new address, and
  // what is sent to the old one no longer reaches it. Throws std::invalid_argument if the
  // address is used.
  void move_host(host& h, const boost::asio::ip::address& address);

  // Makes `h` dual-stack: `address`, of the other family than its first, in realm `where`
  // (the internet, or the inside of a NAT box or stateful firewall). A socket bound to "::"
  // then sends from the address of its destination's family and receives on both; one bound
  // to "0.0.0.0" or to one address stays on that family. Throws std::invalid_argument if the
  // family is the host's already, the realm does not exist or the address is used there.
  void add_address(host& h, realm where, const boost::asio::ip::address& address);

  host* find_host(std::string_view name) noexcept;
  nat_box* find_nat(std::string_view name) noexcept;
  // "internet" or "inside nat-a".
  std::string realm_name(realm r) const;

  // The clock of the network's delays: give it to the sessions, brokers and relays that run
  // on it (session_options::clock, ...), so that they share its time.
  punch::clock& clock() const noexcept { return *time_; }
  // The network's own virtual clock, which sim::run moves; also there (unused) when the
  // network was given another clock.
  virtual_clock& virtual_time() noexcept { return virtual_; }

  // clock().now() plus the offset that advance_clock() accumulated on a clock that is not
  // virtual. NAT mapping lifetimes are checked against it, lazily, when a datagram crosses
  // the NAT box.
  punch::clock::time_point now() const noexcept;
  // now() minus the moment the network was created: what an event emitted now has as `at`.
  std::chrono::nanoseconds elapsed() const noexcept { return now() - created_; }
  // Moves time forward without waiting. Virtual time: every timer due by then fires
  // (datagrams in flight arrive, sessions' timers expire), as if that time had passed. Any
  // other clock: only now() moves (mapping lifetimes); datagrams in flight are not hurried.
  void advance_clock(punch::clock::duration d);

  // Calls `h` for every event, synchronously, in decision order (several may be added).
  void on_event(event_handler h);
  // Keeps the most recent `max_events` events in trace(); 0 (the default) keeps none.
  void keep_trace(std::size_t max_events);
  const std::deque<event>& trace() const noexcept { return trace_; }
  void clear_trace() noexcept { trace_.clear(); }

  // Datagrams sent so far (also the number of the last one).
  std::uint64_t datagrams_sent() const noexcept { return last_packet_; }
  // Datagrams scheduled for delivery and not yet arrived.
  std::size_t datagrams_in_flight() const noexcept;

private:
  friend class host;
  friend class nat_box;
  friend class detail::sim_socket;
  friend class detail::delivery_queue;
  friend class detail::host_transport;
  friend class port_mapping_service;

  // A datagram on its way: the state the router carries from link to link.
  struct route;

  // The router (router.cpp): decides the whole path of a datagram and schedules it.
  void send(host& from, const endpoint& src, const endpoint& dst,
            boost::asio::const_buffer data);
  bool cross(const link& l, const std::string& owner, route& r);
  // Called by the delivery queue when a datagram arrives at its destination host.
  void arrive(detail::delivery& d);

  void emit(event e);
  detail::rng& rng() noexcept { return *rng_; }
  host* host_at(realm r, const boost::asio::ip::address& a) const noexcept;
  nat_box* nat_at(realm r, const boost::asio::ip::address& a) const noexcept;
  nat_box* owner_of(realm r) const noexcept;
  void check_free(realm r, const boost::asio::ip::address& a, std::string_view name) const;

  boost::asio::any_io_executor executor_;
  std::uint64_t seed_;
  std::unique_ptr<detail::rng> rng_;
  virtual_clock virtual_;
  punch::clock* time_;
  punch::clock::time_point created_;
  punch::clock::duration offset_{0};
  std::vector<std::unique_ptr<host>> hosts_;
  std::vector<std::unique_ptr<nat_box>> nats_;
  // Indexes, so that routing stays logarithmic with 10,000s of hosts: by name, and by the
  // address each host or NAT box (its external side) has in a realm.
  using place = std::pair<std::uint32_t, boost::asio::ip::address>;
  std::map<std::string, host*, std::less<>> host_names_;
  std::map<std::string, nat_box*, std::less<>> nat_names_;
  std::map<place, host*> host_places_;
  std::map<place, nat_box*> nat_places_;
  std::map<place, port_mapping_service*> mapping_services_;  // by the inside address they answer at
  // realm id → the NAT box whose inside it is; [0], the internet, has none.
  std::vector<nat_box*> realm_owner_{nullptr};
  // A deque: handlers added by a running handler do not move it.
  std::deque<event_handler> handlers_;
  std::deque<event> trace_;
  std::size_t trace_limit_ = 0;
  std::uint64_t last_packet_ = 0;
  std::unique_ptr<detail::delivery_queue> deliveries_;
};

}  // namespace punch::sim
