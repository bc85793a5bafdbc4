// The udp transport's socket_impl: one asio::ip::udp::socket, operations forwarded as they are.
#pragma once

#include "punch/transport.hpp"

namespace punch::udp {

// What the transport's options set on every socket it opens.
struct socket_settings {
  std::size_t batch = 1;           // > 1: batch_socket
  std::size_t receive_buffer = 0;  // SO_RCVBUF; 0: the system's default
  std::size_t send_buffer = 0;     // SO_SNDBUF
  bool reuse_port = false;         // SO_REUSEPORT: several sockets on one port, one per thread
};

// Opens and binds a socket with `settings`; see make_transport in punch/plugins/udp.hpp for
// the error mapping.
asio::ip::udp::socket open_socket(const asio::any_io_executor& ex, const endpoint& local,
                                  const socket_settings& settings, error_code& ec);

// True if the handler runs on the socket's own io_context executor (the common case: a
// coroutine or callback on the same io_context). Such a handler is bound to that executor,
// so that asio counts the outstanding work on the io_context directly; otherwise asio wraps
// the handler's type-erased executor once more to track work on it, which allocates on every
// operation (the broker's hot path must not).
bool runs_on(const datagram_handler& handler, const asio::any_io_executor& socket_ex);

// What a socket of `v6` family sends to for `to`: an IPv4 destination of a dual-stack socket
// as ::ffff:a.b.c.d (the kernel takes no other form there).
inline endpoint socket_form(const endpoint& to, bool v6) {
  if (v6 && to.address().is_v4())
    return {asio::ip::make_address_v6(asio::ip::v4_mapped, to.address().to_v4()), to.port()};
  return to;
}

class udp_socket final : public socket_impl {
public:
  explicit udp_socket(asio::ip::udp::socket socket)
      : socket_(std::move(socket)), v6_(socket_.is_open() && socket_.local_endpoint().address().is_v6()) {}

  asio::any_io_executor get_executor() override { return socket_.get_executor(); }
  endpoint local_endpoint() const override;
  bool is_open() const override { return socket_.is_open(); }
  void close() override;

  // One datagram per operation: the fallback; batch_socket batches with recvmmsg/sendmmsg.
  void async_send_to(asio::const_buffer data, const endpoint& to,
                     datagram_handler handler) override;
  void async_receive_from(asio::mutable_buffer data, endpoint& from,
                          datagram_handler handler) override;

private:
  asio::ip::udp::socket socket_;
  bool v6_;
};

}  // namespace punch::udp
