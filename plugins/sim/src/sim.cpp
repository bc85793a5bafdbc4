// The registry's entry point: a self-contained network with one public host, and
// network_of() to reach the network behind any "sim" transport.
#include "punch/plugins/sim.hpp"

#include "socket.hpp"

#include <charconv>
#include <chrono>
#include <string_view>

namespace punch::sim {
namespace {

// A transport that owns its network and opens every socket on the network's one host.
class owning_transport final : public punch::transport {
public:
  owning_transport(std::unique_ptr<network> net, host& h) : network_(std::move(net)), host_(h) {}

  std::string name() const override { return "sim"; }
  asio::any_io_executor get_executor() override { return network_->get_executor(); }
  using punch::transport::open;
  datagram_socket open(const endpoint& local, error_code& ec) override {
    return host_.transport().open(local, ec);
  }

  network& net() noexcept { return *network_; }

private:
  std::unique_ptr<network> network_;
  host& host_;
};

// The whole value must be a number: "12x" is as wrong as "x".
template <typename T>
bool parse_number(std::string_view text, T& value) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc{} && ptr == end;
}

}  // namespace

std::unique_ptr<punch::transport> make_transport(asio::any_io_executor ex,
                                                 const transport_options& options,
                                                 error_code& ec) {
  ec.clear();
  std::uint64_t seed = 1;
  double latency_ms = 0.0;
  double loss = 0.0;
  for (const auto& [key, value] : options) {
    bool ok = false;
    if (key == "seed") {
      ok = parse_number(value, seed);
    } else if (key == "latency_ms") {
      ok = parse_number(value, latency_ms) && latency_ms >= 0.0 && latency_ms <= 3'600'000.0;
    } else if (key == "loss") {
      ok = parse_number(value, loss) && loss >= 0.0 && loss <= 1.0;
    }
    if (!ok) {
      ec = errc::invalid_transport_option;
      return nullptr;
    }
  }
  // Real time: apps run this transport under io_context::run(), which cannot move a virtual clock.
  auto net = std::make_unique<network>(std::move(ex), seed, punch::steady_clock());
  link l;
  l.latency = std::chrono::microseconds(static_cast<std::int64_t>(latency_ms * 1000.0));
  l.loss = loss;
  host& h = net->add_host("local", net->internet(),
                          asio::ip::make_address(default_host_address), l);
  return std::make_unique<owning_transport>(std::move(net), h);
}

network* network_of(punch::transport& t) noexcept {
  if (auto* own = dynamic_cast<owning_transport*>(&t)) return &own->net();
  if (auto* h = dynamic_cast<detail::host_transport*>(&t)) return &h->owner().network();
  return nullptr;
}

}  // namespace punch::sim
