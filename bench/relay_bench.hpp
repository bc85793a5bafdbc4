// punch-bench's relay kind (--kinds relay; issue 18): datagrams forwarded between pairs of
// allocations at punch-relay, against the same datagrams to punch-echo (the ceiling) and over
// TURN ChannelData through coturn; then punch-relay's memory per allocation. See
// docs/performance.md, "Relay: datagrams per CPU-second (issue 18)".
#pragma once

#include "load.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace punch::bench {

struct relay_bench_options {
  std::string relay;   // punch-relay
  std::string alt_relay;  // non-empty: another punch-relay ("alt"; a before/after in one run)
  std::string echo;    // punch-echo
  std::string coturn;  // turnserver; empty: not measured
  int rounds = 6;      // recorded rounds, after one dropped warm-up round
  std::chrono::milliseconds duration{1000};
  load_options load;   // load.sockets is ignored: two per pair
  std::size_t pairs = 16;
  std::vector<std::size_t> payloads{100, 1200};
  std::uint32_t allocations = 100'000;  // pairs for the memory curve (0: skip it)
  int steps = 4;
  int server_cpu = 0, client_cpu = 1;
  std::string csv, memory_csv;
  bool smoke = false;
};

// Runs the rounds and the memory curve, prints the tables; the exit status (with smoke: 1
// when nothing was relayed, a run lost over a fifth, or the memory fill failed).
int run_relay_bench(const relay_bench_options& o);

}  // namespace punch::bench
