// Private: the sockets a sim host opens, and the host's "sim" transport.
#pragma once

#include "punch/plugins/sim/host.hpp"
#include "punch/transport.hpp"

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <vector>

namespace punch::sim::detail {

class sim_socket final : public socket_impl {
public:
  // `local`: the host's address (or one of a dual-stack host's two), or "::" for both.
  sim_socket(host& h, const endpoint& local);
  ~sim_socket() override;

  asio::any_io_executor get_executor() override { return executor_; }
  endpoint local_endpoint() const override { return local_; }
  bool is_open() const override { return host_ != nullptr; }
  void close() override;

  void async_send_to(asio::const_buffer data, const endpoint& to,
                     datagram_handler handler) override;
  void async_receive_from(asio::mutable_buffer data, endpoint& from,
                          datagram_handler handler) override;

  // A datagram arrives: completes the oldest pending receive or queues it.
  // False when the queue is full (the caller reports queue_full).
  bool deliver(const endpoint& from, std::vector<std::byte>&& payload);
  // The host is going away: close without touching its port table.
  void detach();
  // The host got another address (network::move_host).
  void move_to(const asio::ip::address& a) { local_ = endpoint(a, local_.port()); }

private:
  struct datagram {
    endpoint from;
    std::vector<std::byte> bytes;
  };
  struct pending_receive {
    std::uint64_t id;
    asio::mutable_buffer buffer;
    endpoint* from;
    datagram_handler handler;
    asio::cancellation_slot slot;
    // Keep both io_contexts running while the receive waits, as a real socket does;
    // io_work also posts the completion when the socket itself is gone.
    asio::any_io_executor io_work;
    asio::any_completion_executor handler_work;
  };
  // Shared with cancellation-slot handlers, which the slot's owner may keep after the
  // socket is gone.
  struct receive_state {
    std::list<pending_receive> pending;
  };

  static void cancel(receive_state& state, std::uint64_t id);
  void abort_all();
  void complete(pending_receive& op, error_code ec, std::size_t bytes);

  host* host_;
  endpoint local_;
  asio::any_io_executor executor_;
  std::deque<datagram> queue_;
  std::shared_ptr<receive_state> receives_ = std::make_shared<receive_state>();
  std::uint64_t next_id_ = 0;
};

class host_transport final : public punch::transport {
public:
  explicit host_transport(host& h) : host_(h) {}

  std::string name() const override { return "sim"; }
  asio::any_io_executor get_executor() override;
  using punch::transport::open;
  datagram_socket open(const endpoint& local, error_code& ec) override;
  std::vector<asio::ip::address> interface_addresses() override { return host_.addresses(); }
  // NAT-PMP and UPnP IGD: answered by the port_mapping_service at the gateway's address in
  // this host's realm, if any (port_mapping_query.cpp).
  bool maps_ports(std::string_view protocol) const override { return protocol == "natpmp" || protocol == "upnp"; }
  void async_map_port(const port_mapping_query& query, port_mapping_handler handler) override;

  host& owner() noexcept { return host_; }

private:
  host& host_;
};

}  // namespace punch::sim::detail
