// The serve loop of the broker and the relay (server module): receive loops that take batches
// of datagrams from one socket, hand each to the server's protocol, and send the answers of a
// batch together; and the expiry loop that sweeps the server's state on a timer. What a
// datagram means is the protocol's (datagram_service); the loop only moves bytes.
#pragma once

#include "punch/clock.hpp"
#include "punch/duration_histogram.hpp"
#include "punch/transport.hpp"

#include <boost/asio/awaitable.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace punch::detail {

using clock = std::chrono::steady_clock;

// What a datagram asks the server to send: `bytes` to `to`; empty bytes: nothing.
struct reply {
  std::span<const std::byte> bytes;
  endpoint to;
};

// A protocol served by a serve_loop: the broker, the relay.
class datagram_service {
public:
  // The server's clock (its options' clock, or the steady clock): what now() reads and what
  // the expiry loop waits on.
  virtual punch::clock& time() const noexcept = 0;
  clock::time_point now() const { return time().now(); }
  // One datagram received at `now`; an answer is written into `answer` (max_message_size
  // bytes), which stays untouched until the batch is sent.
  virtual reply handle(std::span<const std::byte> datagram, const endpoint& from, clock::time_point now,
                       std::span<std::byte> answer) = 0;
  // Drops the state that expired by `now` (called every expiry_interval).
  virtual void expire(clock::time_point now) = 0;
  // Where the loop records how long each datagram took to handle (steady_clock, real time
  // even when time() is virtual: it measures the server's CPU, not its protocol's clock).
  virtual duration_histogram& handling_times() noexcept = 0;
  // A receive brought `n` datagrams (for the counters).
  virtual void received_batch(std::size_t /*n*/) noexcept {}
  // A datagram filled the receive buffer, may have been truncated, and was dropped unhandled
  // (only with serve_settings::drop_full_datagrams).
  virtual void dropped_full_datagram() noexcept {}

protected:
  ~datagram_service() = default;
};

struct serve_settings {
  const char* name = "server";  // "broker", "relay": for the error message
  std::size_t receive_size = 0;  // bytes received per datagram
  // A datagram that fills receive_size may have been truncated: drop it instead of handling it.
  bool drop_full_datagrams = false;
  std::chrono::milliseconds expiry_interval{1000};
};

// Not thread-safe: everything runs on the socket's executor.
class serve_loop {
public:
  // Datagrams per receive: a transport with batches (udp's batch=N) fills up to this many per
  // resumption of a loop, and the answers go out together in one batch send.
  static constexpr std::size_t batch = 64;
  // Several loops share the socket. With a transport that receives one datagram per
  // operation, one turn of the io_context then serves several datagrams (fewer epoll_wait
  // calls per datagram); with batches, one loop receives while another sends.
  static constexpr std::size_t receive_loops = 2;

  // Allocates every buffer now: serving never allocates. `socket` and `service` must outlive
  // the loop.
  serve_loop(datagram_socket& socket, datagram_service& service, serve_settings settings);

  // Serves until the socket is closed or the coroutine is cancelled. Throws system_error for
  // a receive error other than the transient ones (ICMP-induced refusals, truncation).
  asio::awaitable<void> run();

private:
  // One receive loop's buffers: datagrams in, answers out.
  struct loop_buffers {
    std::vector<std::byte> in;   // batch × receive_size
    std::vector<std::byte> out;  // batch × stun max_message_size
    std::array<received_datagram, batch> received{};
    std::array<outgoing_datagram, batch> sends{};
  };

  asio::awaitable<void> receive_loop(loop_buffers& b);
  // loops_[first, first + count) at once; ends when they all have.
  asio::awaitable<void> receive_loops_from(std::size_t first, std::size_t count);
  asio::awaitable<void> expiry_loop();

  datagram_socket& socket_;
  datagram_service& service_;
  serve_settings settings_;
  std::array<loop_buffers, receive_loops> loops_;
  std::string local_;  // the socket's endpoint, for error messages
};

}  // namespace punch::detail
