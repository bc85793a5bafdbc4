// punch-broker's --metrics: what a scrape reads from the brokers (on their own threads) and
// the Prometheus text it serves. The names and what to alert on are in docs/deployment.md,
// "Metrics".
#pragma once

#include "punch/broker.hpp"
#include "punch/cluster.hpp"
#include "punch/registry.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace punch::broker_app {

// What one scrape reads.
struct broker_sample {
  broker_stats stats;  // summed over every broker of the process (--threads, --other-port)
  std::size_t registrations = 0;
  std::optional<cluster_stats> cluster;  // with broker_options::cluster only
};

// Adds every counter of `more` to `into`, its histogram too.
void add_stats(broker_stats& into, const broker_stats& more);

// The exposition text of `s`, the process's own metrics after it.
std::string metrics_text_of(const broker_sample& s);

// A broker and the executor its run() uses (its counters are read there only).
struct broker_on {
  const broker* b;
  asio::any_io_executor ex;
};

// Reads every broker's counters on its executor, and the registry's size and the cluster's
// counters (when `c` is not null) on `brokers.front()`'s; everything must outlive the scrape.
asio::awaitable<broker_sample> sample(std::vector<broker_on> brokers, const registry& reg, const cluster* c);

}  // namespace punch::broker_app
