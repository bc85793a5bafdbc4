// The "udp" transport: real UDP sockets through asio.
#pragma once

#include "punch/transport_registry.hpp"

namespace punch::udp {

// Makes the transport. Options: none yet (later: batching with recvmmsg/sendmmsg); any
// option → errc::invalid_transport_option.
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
