// The udp transport's socket_impl: one asio::ip::udp::socket, operations forwarded as they are.
#pragma once

#include "punch/transport.hpp"

namespace punch::udp {

class udp_socket final : public socket_impl {
public:
  explicit udp_socket(asio::ip::udp::socket socket) : socket_(std::move(socket)) {}

  // Opens and binds; see make_transport in punch/plugins/udp.hpp for the error mapping.
  static std::unique_ptr<udp_socket> open(const asio::any_io_executor& ex, const endpoint& local,
                                          error_code& ec);

  asio::any_io_executor get_executor() override { return socket_.get_executor(); }
  endpoint local_endpoint() const override;
  bool is_open() const override { return socket_.is_open(); }
  void close() override;

  // One datagram per operation for now. The broker's fast path will add batched
  // recvmmsg/sendmmsg here (a later issue): a receive queue filled by one recvmmsg per
  // readiness event, served to these handlers, with the per-datagram path kept as fallback.
  void async_send_to(asio::const_buffer data, const endpoint& to,
                     datagram_handler handler) override;
  void async_receive_from(asio::mutable_buffer data, endpoint& from,
                          datagram_handler handler) override;

private:
  asio::ip::udp::socket socket_;
};

}  // namespace punch::udp
