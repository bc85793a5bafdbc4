// punch-bench's load generator: many UDP sockets on one thread, each keeping a window of
// requests in flight toward one server, sent and received in batches (sendmmsg/recvmmsg).
// Measures answers per second, latency percentiles and loss.
#pragma once

#include "requests.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace punch::bench {

namespace asio = boost::asio;
using udp_endpoint = asio::ip::udp::endpoint;

// What a run sends and what it makes of the answers. Calls come from the load's one thread.
class workload {
public:
  virtual ~workload() = default;
  // The next request from socket `socket` (whose address is `local`) into `out`; empty:
  // nothing more to send for now. The load owns bytes 0..7 of `id` (a sequence number); the
  // workload may put what it needs to recognise the answer in bytes 8..11.
  virtual std::span<const std::byte> next(std::size_t socket, const udp_endpoint& local,
                                          std::span<std::byte> out, stun::transaction_id& id) = 0;
  // An answer (success or error, its bytes in `datagram`) for a request that `next` built with `id`.
  virtual void answered(std::size_t /*socket*/, const stun::transaction_id& /*id*/, answer_class /*c*/,
                        std::span<const std::byte> /*datagram*/) {}
  // No answer within the timeout.
  virtual void lost(std::size_t /*socket*/, const stun::transaction_id& /*id*/) {}
  // True when the run may end before its duration (every request answered).
  virtual bool finished() const { return false; }
  // Relayed kinds: a datagram that arrived at socket `socket` and was sent by a socket of this
  // load (through a relay to its partner, or back from the echo). Returns that sender and the
  // sequence number its `next` was given (bytes 0..7 of `id`), so that the arrival, not the
  // send, completes the sender's slot; nullopt: read it as an answer to `socket`'s request.
  struct arrival {
    std::size_t sender = 0;
    std::uint64_t seq = 0;
  };
  virtual std::optional<arrival> relayed(std::size_t /*socket*/, std::span<const std::byte> /*datagram*/) {
    return std::nullopt;
  }
  // The echo server sends requests back: count them as answers.
  bool echo = false;
};

struct load_options {
  std::size_t sockets = 16;
  std::size_t window = 8;  // requests in flight per socket
  std::chrono::milliseconds timeout{250};
  // Non-zero: socket i binds to the IPv4 address first_address + i (host order, inside
  // 127.0.0.0/8) instead of 127.0.0.1, so that many sources do not share one address's
  // rate limit at the server (the relay's ALLOCATE limit). Zero: all on 127.0.0.1.
  std::uint32_t first_address = 0;
};

struct load_result {
  std::uint64_t sent = 0;
  std::uint64_t ok = 0;      // success answers (or echoes)
  std::uint64_t errors = 0;  // error answers
  std::uint64_t lost = 0;    // no answer within the timeout
  double seconds = 0;
  double p50_us = 0;
  double p99_us = 0;
  double rate() const { return seconds > 0 ? static_cast<double>(ok + errors) / seconds : 0; }
  double loss() const { return sent ? static_cast<double>(lost) / static_cast<double>(sent) : 0; }
};

// The sockets live as long as the load, so a workload's registrations stay valid across runs.
class load {
public:
  // options.sockets sockets, all talking to `server`.
  load(asio::io_context& ctx, const udp_endpoint& server, load_options options);
  // One socket per entry of `servers`, socket i talking to servers[i] (options.sockets is
  // ignored): peers held by different brokers of one cluster.
  load(asio::io_context& ctx, const std::vector<udp_endpoint>& servers, load_options options);
  ~load();
  load(const load&) = delete;
  load& operator=(const load&) = delete;

  // Sends for `duration` (or until w.finished()), then waits up to the timeout for the
  // answers still in flight.
  load_result run(workload& w, std::chrono::milliseconds duration);
  std::size_t sockets() const;
  // From now on socket i sends to `server` (a peer's relayed address at a TURN server).
  void aim(std::size_t socket, const udp_endpoint& server);

private:
  struct state;
  std::unique_ptr<state> s_;
};

}  // namespace punch::bench
