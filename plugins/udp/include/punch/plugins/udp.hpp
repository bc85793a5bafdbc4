// The "udp" transport: real UDP sockets through asio.
#pragma once

#include "punch/transport_registry.hpp"

namespace punch::udp {

// Options: none yet (later: batching). Unknown options → errc::invalid_transport_option.
std::unique_ptr<transport> make_transport(asio::any_io_executor ex,
                                          const transport_options& options, error_code& ec);

}  // namespace punch::udp
