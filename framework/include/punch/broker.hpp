// The broker service: answers STUN Binding, Register, Lookup and Connect on one datagram
// socket of any transport, and introduces both peers of a Connect to each other at once.
// A Register proves its source address (a NONCE the broker gave it) and its identity key (a
// signature); its answer carries a REFRESH-CREDENTIAL with which the same peer refreshes from
// the same address without signing. Every source address gets a token bucket. See
// docs/protocol.md.
#pragma once

#include "punch/export.hpp"

#include "punch/clock.hpp"
#include "punch/duration_histogram.hpp"

#include "punch/cluster.hpp"
#include "punch/registry.hpp"
#include "punch/transport.hpp"
#include "punch/wire/protocol.hpp"

#include <boost/asio/awaitable.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace punch {

// The secret behind the broker's NONCE and REFRESH-CREDENTIAL MACs (docs/protocol.md "NONCE",
// "Refresh").
using broker_secret = std::array<std::byte, 32>;
// A new random secret (libsodium's randombytes), for brokers that must share one.
PUNCH_EXPORT broker_secret random_broker_secret();

struct PUNCH_EXPORT broker_options {
  std::chrono::seconds min_lifetime{10};
  std::chrono::seconds default_lifetime{60};
  std::chrono::seconds max_lifetime{600};
  // Introduce requests are retransmitted until acknowledged, at most this many times.
  int introduce_attempts = 6;
  std::chrono::milliseconds introduce_rto{100};
  // Introductions waiting for their acknowledgement, at most; a Connect beyond it gets 429.
  std::size_t max_pending_introductions = 4096;
  // Answers to recent Connects, kept so that a retransmitted Connect is answered again
  // instead of introducing twice; size it for the Connects a broker sees within a few RTOs.
  std::size_t connect_cache_size = 4096;
  // How often expired registrations are dropped (and `expired` events emitted).
  std::chrono::milliseconds expiry_interval{1000};

  // How long a NONCE the broker issued stays good for a Register (438 after that).
  std::chrono::seconds nonce_lifetime{300};
  // How long the REFRESH-CREDENTIAL of a signed Register lets the same peer refresh from the
  // same address without a signature (438 after that, and the peer signs again): an observer
  // on the path who copies a credential can keep that registration alive that long, as it can
  // with a copied signed Register for nonce_lifetime (docs/security.md).
  std::chrono::seconds refresh_lifetime{300};
  // A Register signed over a TIMESTAMP instead of a NONCE (docs/protocol.md, "TIMESTAMP") is
  // taken on its first datagram when the TIMESTAMP is within this much of the broker's wall
  // clock (punch::wall_time of `clock`), either way, and those bytes were not taken before;
  // otherwise it gets the NONCE challenge, and the peer registers over the NONCE as before.
  // 0: every Register goes through the NONCE.
  std::chrono::seconds timestamp_window{30};
  // The replay cache behind it: timestamped Registers taken in the last 2 × timestamp_window,
  // at most (32 bytes each). When full, timestamped Registers get the NONCE challenge. The
  // default holds a minute of 1,000 first-datagram registrations a second (docs/security.md,
  // "Replay").
  std::size_t replay_cache_size = 65536;
  // Cookie mode (docs/security.md, "Flood"): when the broker verified at least this many
  // signatures in the last second, a timestamped Register without a NONCE gets the NONCE
  // challenge before its signature is checked, so that a spoofed flood costs a hash per
  // datagram, not a verification. 0: always (every Register pays the NONCE round trip).
  std::uint32_t cookie_threshold = 2000;
  // The secret of NONCEs and REFRESH-CREDENTIALs. Empty: a random one per broker. Brokers
  // that serve one port from several threads (punch-broker --threads) must share one: a
  // peer's next datagram may reach another thread than the one that gave it its NONCE.
  std::optional<broker_secret> nonce_secret;

  // A token bucket per source IP address (not port), checked for every datagram before it
  // is parsed: `rate_limit` datagrams per second, bursts of up to `rate_burst`; beyond that
  // datagrams are dropped without an answer (broker_stats::rate_limited). Buckets live in a
  // fixed table of `rate_limit_table` entries chosen by a keyed hash of the address;
  // addresses that collide share one. 0 in any of the three: no limit. Peers behind one
  // public address (a carrier-grade NAT) share its bucket.
  std::uint32_t rate_limit = 100;
  std::uint32_t rate_burst = 200;
  std::size_t rate_limit_table = 65536;

  // The broker's time: what it reads (registration expiry, NONCE age, token buckets) and what
  // its timers wait on (expiry sweep, Introduce retransmission); null: punch::steady_clock().
  // Tests give the simulated network's virtual clock, or one they move by hand. It must
  // outlive the broker.
  punch::clock* clock = nullptr;

  // NAT mapping discovery (RFC 5780): the broker's second port, announced to peers as
  // OTHER-ADDRESS in Register answers. A second broker serves it with `binding_only`.
  std::optional<endpoint> other_address;
  // Answer Binding only (the second port's broker); everything else gets 400.
  bool binding_only = false;

  // Brokers serving one population together (punch/cluster.hpp, docs/deployment.md): null,
  // this broker alone. The registry stays this broker's own peers (it serves them from it
  // while the cluster's store is down); Lookup and Connect of other ids ask the cluster, and
  // an introduction of a peer held elsewhere goes through it. It must outlive run().
  class cluster* cluster = nullptr;
  // Requests waiting for the cluster (a Register's claim, a Lookup or Connect of a peer held
  // elsewhere), at most; one beyond it gets 429 at once (docs/protocol.md, "Brokers sharing a
  // registry"). Each holds a copy of its request until the cluster answers.
  std::size_t max_cluster_waits = 4096;
  // After the cluster's store comes back up, this broker claims its live registrations again,
  // this many at a time (the next batch when the last one has been answered).
  std::size_t reclaim_batch = 256;
  // No SOFTWARE option: answers stay small (docs/protocol.md, "Amplification").
};

// Counters, readable at any time (the broker logs them periodically in the app).
struct PUNCH_EXPORT broker_stats {
  std::uint64_t received = 0;        // every datagram, the rate-limited ones included
  std::uint64_t batches = 0;         // receive operations that brought them (received / batches: the mean batch)
  std::uint64_t rate_limited = 0;    // dropped unread: the source address was over its rate
  std::uint64_t malformed = 0;       // dropped: not a valid STUN message
  std::uint64_t bindings = 0;
  std::uint64_t register_requests = 0;  // every Register request, answered with success or not
  std::uint64_t registrations = 0;   // successful Register (new or refresh, signed or by credential)
  std::uint64_t refreshes = 0;       // of those, refreshes by REFRESH-CREDENTIAL (no signature)
  std::uint64_t signatures_verified = 0;  // Ed25519 verifications of Register SIGNATUREs, failed ones too
  std::uint64_t challenges = 0;      // 401 and 438 answers to Register (each with a NONCE)
  std::uint64_t auth_failed = 0;     // Registers with a good NONCE or TIMESTAMP whose SIGNATURE did not verify
  std::uint64_t first_datagram = 0;  // Registers taken on their TIMESTAMP, without a NONCE round trip
  std::uint64_t stale_timestamps = 0;  // timestamped Registers outside timestamp_window (challenged)
  std::uint64_t replays = 0;         // timestamped Registers seen before, from elsewhere (challenged)
  std::uint64_t cookie_challenges = 0;  // timestamped Registers challenged unverified: busy, or the replay cache full
  std::uint64_t lookups = 0;
  std::uint64_t connects = 0;
  std::uint64_t introductions = 0;        // Introduce exchanges started (one per Connect)
  std::uint64_t introductions_acked = 0;
  std::uint64_t introductions_failed = 0; // never acknowledged, or answered with an error
  std::uint64_t introductions_unproven = 0; // to a target that registered on a TIMESTAMP and has not refreshed yet: retransmitted only once it has
  std::uint64_t errors_sent = 0;     // error answers of every kind, challenges included

  // With broker_options::cluster (docs/deployment.md, "How brokers share a registry"):
  cluster_state store = cluster_state::connecting;  // the cluster's store, as last reported
  std::uint64_t store_downs = 0;          // times the store went down
  std::uint64_t claims = 0;               // Registers that claimed their id in the cluster
  std::uint64_t claims_refused = 0;       // of those, id_taken: the id is live under another key
  std::uint64_t claims_local = 0;         // Registers accepted locally alone: the store was down
  std::uint64_t reclaims = 0;             // registrations claimed again after the store came back
  std::uint64_t reclaims_refused = 0;     // of those, taken meanwhile by another key (dropped here)
  std::uint64_t cluster_lookups = 0;      // Lookups and Connects of ids not held here, asked of the cluster
  std::uint64_t cluster_misses = 0;       // of those, not found anywhere
  std::uint64_t remote_connects = 0;      // Connects answered for a peer held by another broker
  std::uint64_t introductions_forwarded = 0;  // their Introduces, handed to the holder
  std::uint64_t introductions_taken = 0;      // Introduces other brokers handed to this one (sent from here)
  std::uint64_t store_unavailable = 0;    // answers 503: a peer not held here while the store is down
  std::uint64_t cluster_busy = 0;         // answers 429: max_cluster_waits requests already waiting
  std::uint64_t cluster_waiting = 0;      // requests waiting for the cluster now (a gauge)
  // How long handling each datagram took, read on std::chrono::steady_clock whatever
  // broker_options::clock is: from the end of the previous datagram's handling in its batch
  // (or the batch's arrival) to the end of this one's, so one clock read per datagram suffices.
  // Datagrams fed through handle() are not timed.
  duration_histogram handling;
};

// What happened, for logs: one call per new registration and per introduction.
// `introduced` is emitted when the target acknowledges the Introduce; `introduce_failed` when
// it never does (or answers with an error).
struct PUNCH_EXPORT broker_event {
  // store_down, store_up: the cluster's store changed state (once per change; `id` is the
  // cluster's name for this broker). While down, the broker serves its own peers only.
  enum class kind { registered, refreshed, expired, introduced, introduce_failed, store_down, store_up } what;
  std::string id;        // the registering peer, or the connecting peer
  std::string target;    // for introductions: the peer that was introduced
  endpoint address;      // the reflexive address of `id`
  std::chrono::seconds lifetime{0};  // registered, refreshed: the granted lifetime
  wire::token token{};               // introduced, introduce_failed
};

// Not thread-safe: run() and everything it starts use the socket's executor, which must be
// single-threaded (or a strand); for more threads, one broker per thread (see
// share_introductions_with). Destroy the broker before its io_context, as any I/O object.
class PUNCH_EXPORT broker {
public:
  // The socket and the registry must outlive run(); the broker must outlive run() too.
  // Introductions in flight stop when run() ends or the broker is destroyed.
  broker(datagram_socket& socket, registry& reg, broker_options options = {});
  ~broker();
  broker(const broker&) = delete;
  broker& operator=(const broker&) = delete;

  // Serves until the socket is closed or the coroutine is cancelled. Throws system_error
  // for a receive error other than the transient ones (ICMP-induced refusals, truncation).
  asio::awaitable<void> run();

  // Brokers on several threads, each with its own io_context and socket on one shared port
  // (SO_REUSEPORT) and one shared registry (make_shared_registry): the kernel hands a peer's
  // datagrams to the socket its address hashes to, so an Introduce answer may reach another
  // broker than the one that sent the Introduce. Each broker passes such answers on to
  // `siblings` (posted to their executors). Call before run(); the siblings must outlive it.
  void share_introductions_with(std::vector<broker*> siblings);

  // The whole datagram logic without I/O (run() calls it; tests and fuzzers may too): the
  // answer to send to `from`, written into `answer` (stun::max_message_size bytes suffice);
  // empty: none. `from` is the source as the socket reports it. Reads the time from
  // broker_options::clock. Only a Connect that introduces uses the socket (the Introduce
  // exchange runs on its executor): a broker over a default-constructed datagram_socket can be
  // fed everything else this way.
  std::span<const std::byte> handle(std::span<const std::byte> datagram, const endpoint& from,
                                    std::span<std::byte> answer);

  void on_event(std::function<void(const broker_event&)> handler);
  // Sets broker_options::other_address (once its socket is open); call before run().
  void announce_other_address(std::optional<endpoint> other);
  const broker_stats& stats() const noexcept;
  endpoint local_endpoint() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace punch
