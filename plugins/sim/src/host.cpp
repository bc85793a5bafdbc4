// Simulated hosts: identity, link and the port table their sockets bind in.
#include "punch/plugins/sim/host.hpp"

#include "link_check.hpp"
#include "socket.hpp"

namespace punch::sim {

host::host(sim::network& net, std::string name, sim::realm where, asio::ip::address address,
           const sim::link& l)
    : network_(net),
      name_(std::move(name)),
      address_(address),
      realm_(where),
      link_(l),
      transport_(std::make_unique<detail::host_transport>(*this)) {
  detail::check_link(l, name_);
}

host::~host() {
  // Sockets are owned by their users and may outlive the host: cut them loose.
  auto ports = std::move(ports_);
  ports_.clear();
  for (auto& [port, socket] : ports) socket->detach();
}

void host::set_link(const sim::link& l) {
  detail::check_link(l, name_);
  link_ = l;
}

punch::transport& host::transport() noexcept { return *transport_; }

std::vector<asio::ip::address> host::addresses() const {
  std::vector<asio::ip::address> out{address_};
  if (second_) out.push_back(second_->address);
  return out;
}

}  // namespace punch::sim
