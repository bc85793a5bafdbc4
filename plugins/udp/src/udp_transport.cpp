// The "udp" transport: opens batch_socket objects on one executor, queued with option batch=N
// above 1, direct otherwise.
#include "punch/plugins/udp.hpp"

#include "batch_socket.hpp"
#include "socket_setup.hpp"

#include <charconv>
#include <optional>
#include <string_view>

namespace punch::udp {
namespace {

// A whole decimal number in [low, high], or nothing.
std::optional<std::size_t> number(std::string_view text, std::size_t low, std::size_t high) {
  std::size_t v = 0;
  const auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (err != std::errc{} || end != text.data() + text.size() || v < low || v > high) return std::nullopt;
  return v;
}

socket_settings parse_options(const transport_options& options, error_code& ec) {
  ec.clear();
  socket_settings s;
  for (const auto& [key, value] : options) {
    std::optional<std::size_t> v;
    if (key == "batch") {
      if ((v = number(value, 1, max_batch))) s.batch = *v;
    } else if (key == "receive-buffer") {
      if ((v = number(value, 1, 1u << 30))) s.receive_buffer = *v;
    } else if (key == "send-buffer") {
      if ((v = number(value, 1, 1u << 30))) s.send_buffer = *v;
    } else if (key == "reuse-port") {
      if (value == "true" || value == "1") v = 1, s.reuse_port = true;
      else if (value == "false" || value == "0") v = 0, s.reuse_port = false;
    }
    if (!v) {
      ec = errc::invalid_transport_option;
      return {};
    }
  }
  return s;
}

class udp_transport final : public transport {
public:
  udp_transport(asio::any_io_executor ex, socket_settings settings) : ex_(std::move(ex)), settings_(settings) {}

  std::string name() const override { return "udp"; }
  asio::any_io_executor get_executor() override { return ex_; }

  using transport::open;
  datagram_socket open(const endpoint& local, error_code& ec) override {
    asio::ip::udp::socket socket = open_socket(ex_, local, settings_, ec);
    if (ec) return {};
    // A direct socket still moves up to max_batch datagrams per batch operation.
    const bool queued = settings_.batch > 1;
    return datagram_socket{std::make_unique<batch_socket>(std::move(socket), queued ? settings_.batch : max_batch, queued)};
  }

private:
  asio::any_io_executor ex_;
  socket_settings settings_;
};

}  // namespace

std::unique_ptr<transport> make_transport(asio::any_io_executor ex,
                                          const transport_options& options, error_code& ec) {
  const socket_settings settings = parse_options(options, ec);
  if (ec) return nullptr;
  return std::make_unique<udp_transport>(std::move(ex), settings);
}

}  // namespace punch::udp
