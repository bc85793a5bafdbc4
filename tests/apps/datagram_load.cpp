// The real-ring tests' closed-loop load (see datagram_load.hpp).
#include "datagram_load.hpp"

#include <poll.h>

#include <array>

namespace apps_test {

datagram_load::datagram_load(asio::io_context& ctx, const std::vector<asio::ip::address>& sources,
                             const asio::ip::udp::endpoint& server)
    : server_(server) {
  for (const auto& a : sources) {
    auto& s = sockets_.emplace_back(ctx, asio::ip::udp::endpoint(a, 0));
    s.non_blocking(true);
  }
}

void datagram_load::send(std::size_t i, std::span<const std::byte> d) {
  // A full send buffer drops the datagram: the next pump's top-up makes up for it.
  boost::system::error_code ignored;
  sockets_[i].send_to(asio::buffer(d.data(), d.size()), server_, 0, ignored);
}

void datagram_load::prime(std::size_t window) {
  for (std::size_t i = 0; i < sockets_.size(); ++i)
    for (std::size_t k = 0; k < window; ++k) send(i, next_(i, {}));
}

void datagram_load::burst(std::size_t window) {
  std::array<std::byte, 2048> in;
  for (std::size_t i = 0; i < sockets_.size(); ++i) {
    for (std::size_t k = 0; k < window; ++k) send(i, next_(i, {}));
    for (auto& s : sockets_) {
      asio::ip::udp::endpoint from;
      boost::system::error_code ec;
      while (s.receive_from(asio::buffer(in), from, 0, ec), !ec) ++received_;
    }
  }
}

bool datagram_load::pump(std::chrono::milliseconds patience, int stop) {
  std::vector<pollfd> fds;
  for (auto& s : sockets_) fds.push_back({s.native_handle(), POLLIN, 0});
  if (stop >= 0) fds.push_back({stop, POLLIN, 0});
  const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(patience.count()));
  if (ready <= 0) {
    prime(1);
    return false;
  }
  std::array<std::byte, 2048> in;
  for (std::size_t i = 0; i < sockets_.size(); ++i) {
    if (!(fds[i].revents & POLLIN)) continue;
    for (;;) {
      asio::ip::udp::endpoint from;
      boost::system::error_code ec;
      const std::size_t n = sockets_[i].receive_from(asio::buffer(in), from, 0, ec);
      if (ec) break;  // would block: drained
      ++received_;
      send(i, next_(i, std::span<const std::byte>(in.data(), n)));
    }
  }
  return stop >= 0 && (fds.back().revents & (POLLIN | POLLHUP)) != 0;
}

std::optional<bytes> datagram_load::exchange(std::size_t i, std::span<const std::byte> request,
                                             std::chrono::milliseconds patience) {
  send(i, request);
  pollfd p{sockets_[i].native_handle(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(patience.count())) <= 0) return std::nullopt;
  std::array<std::byte, 2048> in;
  asio::ip::udp::endpoint from;
  boost::system::error_code ec;
  const std::size_t n = sockets_[i].receive_from(asio::buffer(in), from, 0, ec);
  if (ec) return std::nullopt;
  return bytes(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n));
}

}  // namespace apps_test
