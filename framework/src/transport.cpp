// Out-of-line parts of the transport interface: the key functions of the plugin base classes
// and the throwing open().
#include "punch/transport.hpp"

#include <sstream>

namespace punch {

socket_impl::~socket_impl() = default;

transport::~transport() = default;

datagram_socket::~datagram_socket() {
  if (impl_) impl_->close();
}

datagram_socket transport::open(const endpoint& local) {
  error_code ec;
  datagram_socket s = open(local, ec);
  if (ec) {
    std::ostringstream what;
    what << "transport \"" << name() << "\" cannot open a socket on " << local;
    throw system_error(ec, what.str());
  }
  return s;
}

}  // namespace punch
