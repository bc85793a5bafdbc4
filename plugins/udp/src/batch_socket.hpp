// The udp transport's socket. The batch operations (async_receive_batch, async_send_batch)
// always move a whole batch between the kernel and the caller's buffers with one recvmmsg or
// sendmmsg. The single operations depend on the mode:
// - queued (option batch=N > 1, for servers that loop on receive, the broker): a receive takes
//   up to N datagrams per recvmmsg and serves the queued ones to later receives without a
//   system call; a send is queued, completes at once, and goes out N at a time with sendmmsg
//   when the receive queue runs dry, when N are queued, or after the handlers already queued
//   have run;
// - direct (batch=1, the default; sessions): one system call per datagram, handed to asio as
//   it is, so that a send completes when the kernel took it and reports its own error.
#pragma once

#include "punch/transport.hpp"

#include <memory>

namespace punch::udp {

class batch_socket final : public socket_impl {
public:
  // Datagrams longer than this are truncated in batch mode.
  static constexpr std::size_t max_datagram = 2048;

  // `batch`: the most datagrams one recvmmsg or sendmmsg moves; `queued`: the mode.
  batch_socket(asio::ip::udp::socket socket, std::size_t batch, bool queued);
  ~batch_socket() override;

  asio::any_io_executor get_executor() override;
  endpoint local_endpoint() const override;
  bool is_open() const override;
  void close() override;
  void async_send_to(asio::const_buffer data, const endpoint& to, datagram_handler handler) override;
  void async_receive_from(asio::mutable_buffer data, endpoint& from, datagram_handler handler) override;
  // recvmmsg straight into the caller's buffers; sendmmsg straight from them.
  void async_receive_batch(std::span<received_datagram> slots, datagram_handler handler) override;
  void async_send_batch(std::span<const outgoing_datagram> datagrams, datagram_handler handler) override;

  struct state;

private:
  // Shared with the readiness wait in flight, which may outlive this object.
  std::shared_ptr<state> s_;
};

}  // namespace punch::udp
