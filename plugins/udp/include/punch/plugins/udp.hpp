// The "udp" transport: real UDP sockets through asio.
#pragma once

#include "punch/transport_registry.hpp"

namespace punch::udp {

// The largest batch=N.
inline constexpr std::size_t max_batch = 64;

// Makes the transport. Options (anything else, or a bad value → errc::invalid_transport_option):
//   batch=N            1..64 (default 1). Above 1, sockets receive up to N datagrams per
//                      recvmmsg and send queued datagrams N at a time with sendmmsg, flushed
//                      when the receive queue runs dry, when N are queued, or once the handlers
//                      already queued have run. Meant for servers that loop on receive (the
//                      broker); datagrams over 2048 bytes are truncated on receive. A send then
//                      completes when it is queued, and its errors are not reported. At 1, a
//                      single send or receive is one system call, with its own result.
//                      Either way async_receive_batch and async_send_batch move up to N (at
//                      batch=1: up to 64) datagrams per recvmmsg or sendmmsg.
//   receive-buffer=B   SO_RCVBUF in bytes (the kernel caps it at net.core.rmem_max)
//   send-buffer=B      SO_SNDBUF in bytes
//   reuse-port=true    SO_REUSEPORT: several sockets (one per thread) share one port
//
// open(local, ec) opens a socket of local's address family and binds it: port 0 picks an
// ephemeral port, an unspecified address binds every interface. Failures to bind come back
// as punch codes where one fits, so that callers compare the same codes for every transport:
//   EADDRINUSE    → errc::address_in_use
//   EADDRNOTAVAIL → errc::address_not_available
//   anything else → the system's error_code, unchanged.
std::unique_ptr<transport> make_transport(asio::any_io_executor ex,
                                          const transport_options& options, error_code& ec);

}  // namespace punch::udp
