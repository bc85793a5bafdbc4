// A closed-loop datagram load for the real-ring server tests: several non-blocking UDP sockets
// on loopback addresses, each keeping a window of datagrams in flight toward one server. Every
// datagram a socket receives is followed by that socket's next one, so the load runs as fast
// as the server answers (or forwards); a pump that hears nothing tops every window up by one,
// since a server may drop what it is sent.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

namespace apps_test {

namespace asio = boost::asio;
using bytes = std::vector<std::byte>;

class datagram_load {
public:
  // What socket `i` sends next; `received` is the datagram it just got (empty when priming).
  using next_datagram = std::function<std::span<const std::byte>(std::size_t i, std::span<const std::byte> received)>;

  // One socket per address of `sources` (an ephemeral port each), all sending to `server`.
  datagram_load(asio::io_context& ctx, const std::vector<asio::ip::address>& sources,
                const asio::ip::udp::endpoint& server);

  // What the sockets send; needed before prime() and pump().
  void set_next(next_datagram next) { next_ = std::move(next); }

  std::size_t size() const noexcept { return sockets_.size(); }
  asio::ip::udp::endpoint local_endpoint(std::size_t i) const { return sockets_[i].local_endpoint(); }

  // Sends `window` datagrams from every socket.
  void prime(std::size_t window);
  // Sends `window` datagrams from one socket after the other, reading (not answering) what
  // has arrived after each: the server serves the burst in small batches as it comes.
  void burst(std::size_t window);
  // Serves what has arrived, each received datagram followed by its socket's next one; waits
  // at most `patience` for something to arrive, or for `stop` (a descriptor, -1: none) to
  // become readable, which it reports by returning true.
  bool pump(std::chrono::milliseconds patience, int stop = -1);

  // Socket `i` sends `request` and returns the first datagram it receives within `patience`.
  std::optional<bytes> exchange(std::size_t i, std::span<const std::byte> request, std::chrono::milliseconds patience);

  std::uint64_t received() const noexcept { return received_; }

private:
  void send(std::size_t i, std::span<const std::byte> d);

  std::vector<asio::ip::udp::socket> sockets_;
  asio::ip::udp::endpoint server_;
  next_datagram next_;
  std::uint64_t received_ = 0;
};

}  // namespace apps_test
