// punch-relay's --metrics: what a scrape reads from the relay (on its thread) and the
// Prometheus text it serves. The names and what to alert on are in docs/deployment.md,
// "Metrics".
#pragma once

#include "punch/relay.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <string>

namespace punch::relay_app {

struct relay_sample {
  relay_stats stats;
  std::size_t allocations = 0;  // held now
};

// The exposition text of `s`, the process's own metrics after it.
std::string metrics_text_of(const relay_sample& s);

// Reads the relay's counters on `ex`, the executor its run() uses; `r` must outlive it.
asio::awaitable<relay_sample> sample(const relay& r, asio::any_io_executor ex);

}  // namespace punch::relay_app
