// The udp transport's sockets: how one is opened and bound (the transport's options), and the
// helpers of its operations (batch_socket.hpp).
#pragma once

#include "punch/transport.hpp"

namespace punch::udp {

// What the transport's options set on every socket it opens.
struct socket_settings {
  std::size_t batch = 1;           // > 1: the queued mode of batch_socket
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

}  // namespace punch::udp
