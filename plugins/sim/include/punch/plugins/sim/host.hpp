// A simulated host: a name, one address in one realm, a link, and a "sim" transport whose
// sockets bind ports on that address.
#pragma once

#include "punch/plugins/sim/topology.hpp"
#include "punch/transport.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>
#include <memory>
#include <string>

namespace punch::sim {

class network;

namespace detail {
class host_transport;
class sim_socket;
}  // namespace detail

class host {
public:
  // Kernel-like default for the number of datagrams a socket queues before dropping.
  static constexpr std::size_t default_receive_queue_limit = 256;

  host(const host&) = delete;
  host& operator=(const host&) = delete;
  // Closes every socket still open on this host (pending operations: operation_aborted).
  ~host();

  const std::string& name() const noexcept { return name_; }
  const asio::ip::address& address() const noexcept { return address_; }
  // A dual-stack host's address of the other family, in its own realm
  // (network::add_address); unset for a host of one family.
  struct attachment {
    sim::realm realm;
    asio::ip::address address;
  };
  const std::optional<attachment>& second_address() const noexcept { return second_; }
  // Its addresses: the first one, then the other family's if any.
  std::vector<asio::ip::address> addresses() const;
  sim::realm realm() const noexcept { return realm_; }
  sim::network& network() noexcept { return network_; }

  // The link to this host's realm; throws std::invalid_argument on negative delays or a
  // loss outside [0, 1].
  const sim::link& link() const noexcept { return link_; }
  void set_link(const sim::link& l);

  // Datagrams a socket on this host queues before it drops (queue_full); default 256.
  std::size_t receive_queue_limit() const noexcept { return queue_limit_; }
  void set_receive_queue_limit(std::size_t datagrams) noexcept { queue_limit_ = datagrams; }

  // The transport ("sim") that opens sockets on this host. open(): port 0 picks an
  // ephemeral port (49152 upwards), an unspecified address means this host's address,
  // another address → errc::address_not_available, a bound port → errc::address_in_use.
  punch::transport& transport() noexcept;

  // Number of sockets currently bound on this host.
  std::size_t open_sockets() const noexcept { return ports_.size(); }

private:
  friend class sim::network;
  friend class detail::host_transport;
  friend class detail::sim_socket;

  host(sim::network& net, std::string name, sim::realm where, asio::ip::address address,
       const sim::link& l);

  sim::network& network_;
  std::string name_;
  asio::ip::address address_;
  std::optional<attachment> second_;
  sim::realm realm_;
  sim::link link_;
  std::size_t queue_limit_ = default_receive_queue_limit;
  std::map<std::uint16_t, detail::sim_socket*> ports_;
  std::uint16_t next_ephemeral_ = 49152;
  std::unique_ptr<detail::host_transport> transport_;
};

}  // namespace punch::sim
