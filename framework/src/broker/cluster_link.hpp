// The broker's side of a cluster (private header; punch/cluster.hpp, docs/deployment.md "How
// brokers share a registry"): what a broker keeps while it serves one population of peers with
// other brokers. Requests that wait for the cluster's answer, the ids whose claim is in flight,
// the ids registered here (to claim again when the store comes back), and the re-claim's place.
#pragma once

#include "punch/cluster.hpp"
#include "punch/transport.hpp"
#include "punch/wire/stun.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace punch::detail {

// A request that waits for the cluster: its bytes (parsed again when the cluster answers, as
// the receive buffer they came in is reused), where the answer goes, and how large it may be.
struct waiting_request {
  std::vector<std::byte> datagram;
  endpoint from;     // as the socket reported it
  endpoint source;   // unmapped
  std::size_t budget = 0;
};

// Answers to waiting requests, sent as one batch: the store's replies come in bursts (one read
// of Redis's socket completes many waits), and one sendmmsg per burst costs the broker far
// less than a sendto per answer (docs/performance.md, "Brokers sharing a registry in Redis").
struct answer_batch {
  std::vector<std::byte> bytes;  // the answers, back to back
  std::vector<std::size_t> sizes;
  std::vector<endpoint> to;
  std::vector<outgoing_datagram> sends;  // over `bytes`, made when the batch goes out
  void clear() {
    bytes.clear();
    sizes.clear();
    to.clear();
    sends.clear();
  }
};

struct cluster_link {
  explicit cluster_link(cluster& c) : store(c), state(c.stats().state) {}

  cluster& store;
  cluster_state state;  // as last reported by on_state
  // Transactions waiting for the cluster, by id, with their source: a retransmission of one
  // is not asked again (broker_options::max_cluster_waits bounds them).
  std::map<stun::transaction_id, endpoint> waiting;
  // Ids whose claim is in flight: their Registers wait for it.
  std::set<std::string, std::less<>> claiming;
  // Ids registered here: what this broker claims again when the store comes back up.
  std::set<std::string, std::less<>> held;
  void forget(std::string_view id) {
    if (auto it = held.find(id); it != held.end()) held.erase(it);
  }

  // The re-claim after the store came back: the ids to claim, the next one, the claims in
  // flight; `round` tells a claim of an older round (the store went down again) from this one's.
  std::vector<std::string> reclaim;
  std::size_t reclaim_next = 0;
  std::size_t reclaim_in_flight = 0;
  std::uint64_t round = 0;

  // Answers built since the last batch went out, the batch in flight (held by its send's
  // handler too, so that its bytes outlive a broker destroyed meanwhile), and one to reuse.
  answer_batch filling;
  std::shared_ptr<answer_batch> spare;
  bool flush_posted = false;
  bool sending = false;
  std::array<std::byte, stun::max_message_size> scratch{};  // where an answer is built

  // Completions hold a weak reference: once the broker is gone they do nothing.
  std::shared_ptr<int> alive = std::make_shared<int>(0);
};

}  // namespace punch::detail
