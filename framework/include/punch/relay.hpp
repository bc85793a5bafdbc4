// The relay service: when two peers cannot punch, both ALLOCATE at a relay with the RELAY-ID
// they derive from their introduction's token, and the relay then forwards every other
// datagram from one to the other, unchanged (checks and sealed frames: it sees ciphertext).
// A source proves its address with a NONCE before it gets any state; the relay sends only to
// addresses that allocated themselves. See docs/relay.md.
#pragma once

#include "punch/export.hpp"

#include "punch/clock.hpp"
#include "punch/duration_histogram.hpp"

#include "punch/transport.hpp"

#include <boost/asio/awaitable.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>

namespace punch {

// The key of the relay's NONCE MACs (BLAKE2b, as the broker's).
using relay_secret = std::array<std::byte, 32>;
// The 16 bytes that name an allocation (wire::introduction_keys::relay_id).
using relay_id = std::array<std::byte, 16>;

struct PUNCH_EXPORT relay_options {
  // Allocations held at once (a pair, or one side waiting for the other); beyond: 508.
  std::size_t max_allocations = 10000;
  // An allocation without traffic (forwarded datagrams, ALLOCATE refreshes) for this long
  // is dropped; the LIFETIME of every success answer.
  std::chrono::seconds lifetime{60};
  // A token bucket per side of each allocation: datagrams per second it may have forwarded,
  // bursts of up to `rate_burst`; beyond that they are dropped (relay_stats::rate_limited).
  // 0 in either: no limit.
  std::uint32_t rate_limit = 2000;
  std::uint32_t rate_burst = 4000;
  // ALLOCATE requests per second per source IP address (IPv6: per /64), in a table of
  // `allocate_rate_table` buckets; beyond: dropped unanswered. 0 in any: no limit.
  std::uint32_t allocate_rate_limit = 50;
  std::uint32_t allocate_rate_burst = 100;
  std::size_t allocate_rate_table = 65536;
  // How long a NONCE the relay issued stays good (438 after that).
  std::chrono::seconds nonce_lifetime{300};
  // The NONCE secret; empty: a random one per relay.
  std::optional<relay_secret> nonce_secret;
  // A pair takes a new source (with its RELAY-ID and a valid NONCE) in place of a side that
  // sent nothing for this long: that peer's address changed and it is finding its pair again.
  std::chrono::milliseconds takeover_after{1000};
  // How often idle allocations are dropped (and `expired` events emitted).
  std::chrono::milliseconds expiry_interval{1000};
  // The relay's time: what it reads (lifetimes, NONCE age, token buckets) and what its expiry
  // sweep waits on; null: punch::steady_clock(). Tests give the simulated network's virtual
  // clock, or one they move by hand. It must outlive the relay.
  punch::clock* clock = nullptr;
};

struct PUNCH_EXPORT relay_stats {
  std::uint64_t received = 0;          // every datagram
  std::uint64_t allocations = 0;       // allocations created (a first side)
  std::uint64_t pairs = 0;             // allocations completed by a second side
  std::uint64_t refreshes = 0;         // ALLOCATE from a side already in its allocation
  std::uint64_t expired = 0;           // allocations dropped after their idle lifetime
  std::uint64_t forwarded = 0;         // datagrams sent on to the other side
  std::uint64_t forwarded_bytes = 0;
  std::uint64_t dropped_unknown = 0;   // from a source in no allocation
  std::uint64_t dropped_unpaired = 0;  // from a side whose other side has not allocated yet
  std::uint64_t rate_limited = 0;      // over the side's token bucket
  std::uint64_t allocate_rate_limited = 0;  // ALLOCATE over its source address's bucket
  std::uint64_t challenges = 0;        // 401 and 438 answers (each with a fresh NONCE)
  std::uint64_t rejected = 0;          // 403 (allocation full, source elsewhere) and 508
  std::uint64_t takeovers = 0;         // a new source took a quiet side's place (a peer moved)
  std::uint64_t bad_requests = 0;      // 400 and 420 answers
  std::uint64_t unanswered = 0;        // ALLOCATE not valid STUN, or too small for any answer
  std::uint64_t oversized = 0;         // datagrams that may have been truncated: dropped
  // How long handling each datagram took, as broker_stats::handling.
  duration_histogram handling;
};

// What happened to an allocation, for logs.
struct PUNCH_EXPORT relay_event {
  // taken_over: a new source (b) took the place of a side that went quiet (a): a peer moved.
  enum class kind { allocated, paired, expired, taken_over } what;
  punch::relay_id id{};
  endpoint a;  // the first side (taken_over: the side that went quiet)
  endpoint b;  // the second side (paired, and expired when it was paired; taken_over: the new one)
};

// What handle() decided about one datagram.
struct PUNCH_EXPORT relay_action {
  enum class kind { none, answer, forward } what = kind::none;
  std::span<const std::byte> bytes;  // answer: in the caller's buffer; forward: the datagram
  endpoint to;                       // answer: the source; forward: the other side
};

// Not thread-safe: run() uses the socket's executor, which must be single-threaded (or a
// strand). Destroy the relay before its io_context, as any I/O object.
class PUNCH_EXPORT relay {
public:
  // The socket must outlive the relay and run().
  explicit relay(datagram_socket& socket, relay_options options = {});
  ~relay();
  relay(const relay&) = delete;
  relay& operator=(const relay&) = delete;

  // Serves until the socket is closed or the coroutine is cancelled. Throws system_error
  // for a receive error other than the transient ones (ICMP-induced refusals, truncation).
  asio::awaitable<void> run();

  // The whole datagram logic without I/O (run() calls it; tests and fuzzers may too): an
  // answer is written into `answer` (stun::max_message_size bytes suffice), a forward
  // points into `datagram`. `from` is the source as the socket reports it. Never allocates
  // but when an allocation is created. Reads the time from relay_options::clock. The socket
  // is not touched: a relay over a default-constructed datagram_socket can be fed this way.
  relay_action handle(std::span<const std::byte> datagram, const endpoint& from,
                      std::span<std::byte> answer);
  // Drops the allocations idle past their lifetime (run() does it every expiry_interval);
  // returns how many.
  std::size_t expire();

  std::size_t allocations() const noexcept;
  void on_event(std::function<void(const relay_event&)> handler);
  const relay_stats& stats() const noexcept;
  endpoint local_endpoint() const;

  // run() receives into this many bytes: a datagram that fills them may have been truncated,
  // and is dropped (relay_stats::oversized) rather than forwarded changed.
  static constexpr std::size_t receive_buffer_size = 2048;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace punch
