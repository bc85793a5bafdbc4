// punch-bench's results: the medians of interleaved runs, the ratios the performance issue
// asks for, the memory curve, as a table, as CSV, and the smoke test's verdict.
#pragma once

#include "load.hpp"
#include "percentile.hpp"

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace punch::bench {

struct run_record {
  int round = 0;
  request_kind kind = request_kind::binding;
  std::string target;
  load_result result;
  double server_cpu_s = 0;  // CPU time the server used during the run
  double redis_cpu_s = 0;   // brokers on Redis: redis-server's CPU time during the run
  double holder_cpu_s = 0;  // "cross": the CPU time of the broker that holds the peers
  // Answers per second of the server's CPU time: its efficiency, robust to a busy machine.
  double per_cpu_second() const {
    return server_cpu_s > 0 ? static_cast<double>(result.ok + result.errors) / server_cpu_s : 0;
  }
};

// The median run of each (kind, target) by rate; p50/p99 are the medians of the runs' own.
struct median_record {
  request_kind kind = request_kind::binding;
  std::string target;
  int runs = 0;
  double rate = 0, p50_us = 0, p99_us = 0;
  double per_cpu_second = 0;  // median of the runs' answers per server CPU-second
  double cpu_share = 0;       // median of server CPU time / run time
  double redis_share = 0, holder_share = 0;  // the same for redis-server and the holding broker
  std::uint64_t sent = 0, errors = 0, lost = 0;  // summed over the runs
};

struct memory_point {
  std::uint64_t peers = 0;
  std::uint64_t rss_kib = 0, hwm_kib = 0;
  std::uint64_t failed = 0;  // registrations refused or never answered
};

std::vector<median_record> median_of(const std::vector<run_record>& runs);
// The median record of (k, target); null if there is none.
const median_record* find(const std::vector<median_record>& m, request_kind k, const std::string& target);
void print_table(std::ostream& out, const std::vector<median_record>& m);
// The targets' ratios: of the medians (req/s and req/cpu-s) and the median of the rounds'
// own req/cpu-s ratios with their range; "met" judges the median ratio by req/cpu-s.
void print_ratios(std::ostream& out, const std::vector<median_record>& m, const std::vector<run_record>& runs);
// The header above print_ratio's lines, `title` in the first column.
void print_ratio_header(std::ostream& out, const char* title);
// One line of print_ratios: a's and b's rates for kind k, judged against `target` by req/cpu-s.
void print_ratio(std::ostream& out, const char* what, const std::vector<median_record>& m,
                 const std::vector<run_record>& runs, request_kind k, const char* a, const char* b, double target);
// Brokers sharing Redis (cluster_report.cpp): each Redis target's rates beside Redis's CPU, the
// Connect and Lookup latency of peers held by the other broker against the same broker, and
// the Redis-backed broker's rates against the in-memory one's.
void print_cluster(std::ostream& out, const std::vector<median_record>& m, const std::vector<run_record>& runs);
// `what` heads the count column (registered peers; the relay's allocations), `each` names one
// of them in the bytes-per column.
void print_memory(std::ostream& out, const std::vector<memory_point>& points, const char* what = "registered peers",
                  const char* each = "peer");
void write_csv(const std::string& path, const std::vector<run_record>& runs, const std::vector<median_record>& m);
void write_memory_csv(const std::string& path, const std::vector<memory_point>& points);
// True if every broker and echo run got answers, the broker sent no error answers, loss stayed
// under 1 %, and every peer was registered; says what failed otherwise.
bool smoke_check(std::ostream& out, const std::vector<median_record>& m, const std::vector<memory_point>& memory,
                 std::uint64_t peers);
// The end of a run: the CSV files asked for (an empty path: none), and the exit status: with
// `smoke`, smoke_check's verdict on `m` and `memory` (filled up to `peers`); 0 otherwise.
int finish_run(const std::string& csv, const std::string& memory_csv, bool smoke, const std::vector<run_record>& runs,
               const std::vector<median_record>& m, const std::vector<memory_point>& memory, std::uint64_t peers);

}  // namespace punch::bench
