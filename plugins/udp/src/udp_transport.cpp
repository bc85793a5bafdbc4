// The "udp" transport: opens udp_socket objects on one executor.
#include "punch/plugins/udp.hpp"

#include "udp_socket.hpp"

namespace punch::udp {
namespace {

// What the options ask for. Empty today; batching (recvmmsg/sendmmsg) adds its knobs here.
struct udp_options {};

udp_options parse_options(const transport_options& options, error_code& ec) {
  ec.clear();
  if (!options.empty()) ec = errc::invalid_transport_option;
  return {};
}

class udp_transport final : public transport {
public:
  explicit udp_transport(asio::any_io_executor ex) : ex_(std::move(ex)) {}

  std::string name() const override { return "udp"; }
  asio::any_io_executor get_executor() override { return ex_; }

  using transport::open;
  datagram_socket open(const endpoint& local, error_code& ec) override {
    std::unique_ptr<udp_socket> socket = udp_socket::open(ex_, local, ec);
    if (!socket) return {};
    return datagram_socket{std::move(socket)};
  }

private:
  asio::any_io_executor ex_;
};

}  // namespace

std::unique_ptr<transport> make_transport(asio::any_io_executor ex,
                                          const transport_options& options, error_code& ec) {
  parse_options(options, ec);
  if (ec) return nullptr;
  return std::make_unique<udp_transport>(std::move(ex));
}

}  // namespace punch::udp
