// Brokers that serve one population of peers together (punch-broker --redis): a directory of
// registrations that every broker of the cluster reads, and a way to hand an introduction to
// the broker that holds its target, because the target's NAT lets in only that broker's
// address. Two implementations: Redis (make_redis_cluster, punch/redis.hpp) for processes on
// several machines, and an in-process hub (memory_cluster_hub) for tests and the simulated
// network. See docs/deployment.md.
#pragma once

#include "punch/export.hpp"

#include "punch/clock.hpp"
#include "punch/error.hpp"
#include "punch/registry.hpp"
#include "punch/transport.hpp"
#include "punch/wire/protocol.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace punch {

// One registration as the cluster knows it.
struct PUNCH_EXPORT cluster_entry {
  // record.expires is in the reader's clock: its now plus the time the entry has left.
  registration_record record;
  std::string holder;  // the name of the broker the peer registered at
};

// An Introduce that the holder of its target sends from its own socket and retransmits until
// the target acknowledges it, as it does for a Connect it answered itself.
struct PUNCH_EXPORT cluster_introduction {
  std::string from_broker;         // the broker that answered the Connect (for logs)
  std::string requester;           // the connecting peer's id
  std::string target;              // the peer to introduce (held by the receiving broker)
  wire::token token{};
  std::vector<std::byte> request;  // the whole Introduce message, FINGERPRINT included
};

enum class cluster_state { connecting, up, down };

struct PUNCH_EXPORT cluster_stats {
  cluster_state state = cluster_state::connecting;
  std::uint64_t claims = 0;             // claim() calls
  std::uint64_t claim_conflicts = 0;    // of those, refused: the id is live under another key
  std::uint64_t extends = 0;            // extend() calls that reached the store
  std::uint64_t extends_skipped = 0;    // extend() calls absorbed (the entry is fresh enough)
  std::uint64_t finds = 0;
  std::uint64_t find_misses = 0;        // no live entry
  std::uint64_t introductions_sent = 0;      // forward() calls passed on
  std::uint64_t introductions_received = 0;  // handed to on_introduction
  std::uint64_t failed = 0;             // operations that completed with cluster_unavailable
  std::uint64_t dropped = 0;            // refused at once: too many operations in flight
  std::uint64_t reconnects = 0;         // connections to the store re-established
};

// Every completion runs on the executor the cluster was made with (the broker's). Handlers
// given to an operation are called exactly once, also when the store is down (with
// errc::cluster_unavailable) or the cluster is destroyed first (with
// asio::error::operation_aborted). Not thread-safe: use it from that executor only.
class PUNCH_EXPORT cluster {
public:
  virtual ~cluster() = default;

  // This broker's name, unique among the brokers of the cluster.
  virtual const std::string& name() const noexcept = 0;

  // Binds r.id() to r.key, held by name(), for `lifetime` from now, with r's candidates.
  // errc::id_taken when the id is live under another key: an id's key binding holds across
  // the cluster, whichever broker the other key registered at. The same key takes the entry
  // over from another broker (the peer moved, e.g. failed over).
  virtual void claim(const registration_record& r, std::chrono::milliseconds lifetime,
                     asio::any_completion_handler<void(error_code)> done) = 0;

  // Keeps the entry of r.id() alive for `lifetime` from now, if name() still holds it under
  // r.key; nothing otherwise. No answer. Called on every refresh: an implementation may
  // absorb calls while the stored expiry is recent enough (a Redis round trip per keepalive
  // would cost the store more than the refreshes cost the broker).
  virtual void extend(const registration_record& r, std::chrono::milliseconds lifetime) = 0;

  // The live entry of `id`: errc::peer_not_found when there is none.
  virtual void find(std::string_view id,
                    asio::any_completion_handler<void(error_code, cluster_entry)> done) = 0;

  // Hands `in` to the broker named `holder`. At most once, no answer: the connecting peer's
  // Connect timeout covers a lost one, as it covers a lost Introduce.
  virtual void forward(std::string_view holder, cluster_introduction in) = 0;

  // Called with each introduction that another broker forwarded to this one.
  virtual void on_introduction(std::function<void(cluster_introduction)> handler) = 0;
  // Called when the state changes (after start()): up again after down means the store may
  // have lost what this broker put there, and the broker claims its registrations again.
  virtual void on_state(std::function<void(cluster_state)> handler) = 0;

  // Connects to the store; until then (and while down) operations fail with
  // errc::cluster_unavailable. stop() ends every connection and timer, completing what is in
  // flight with operation_aborted; call it before the executor's io_context stops.
  virtual void start() = 0;
  virtual void stop() = 0;

  virtual cluster_stats stats() const = 0;
};

// Brokers in one process sharing one directory: tests, the simulated network, and an app
// that runs several brokers on several threads of one machine. The hub must outlive its members.
class PUNCH_EXPORT memory_cluster_hub {
public:
  memory_cluster_hub();
  ~memory_cluster_hub();
  memory_cluster_hub(const memory_cluster_hub&) = delete;
  memory_cluster_hub& operator=(const memory_cluster_hub&) = delete;

  // A member named `name` whose completions run on `ex`; `time` (null: steady_clock()) is
  // what entry lifetimes count in.
  std::unique_ptr<cluster> join(std::string name, asio::any_io_executor ex, punch::clock* time = nullptr);

  // Tests: while down, every member's operations fail with cluster_unavailable and its
  // state is down; back up, the directory is empty (a store that restarted without its data).
  void set_down(bool down);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace punch
