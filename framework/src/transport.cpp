// Out-of-line parts of the transport interface.
#include "punch/transport.hpp"

#include <sstream>

namespace punch {

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
