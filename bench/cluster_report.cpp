// punch-bench's report on brokers sharing a registry in Redis (issue 16's targets): each
// target's rates beside redis-server's CPU, Lookup and Connect of a peer held by the other
// broker against one held by the same broker, and the Redis-backed broker against the
// in-memory one by requests per broker CPU-second.
#include "report.hpp"

#include <algorithm>
#include <iomanip>

namespace punch::bench {
namespace {

constexpr const char* cluster_targets[] = {"broker", "redis", "same", "cross"};

void print_rates(std::ostream& out, const std::vector<median_record>& m) {
  out << "\nbrokers sharing Redis   server   runs   req/s  req/cpu-s  broker cpu  redis cpu  holder cpu  p50 (us)"
         "  p99 (us)    loss  errors\n";
  for (const auto kind : all_kinds)
    for (const char* t : cluster_targets) {
      const auto* r = find(m, kind, t);
      if (!r) continue;
      out << std::left << std::setw(24) << name_of(kind) << std::setw(7) << t << std::right << std::fixed
          << std::setprecision(0) << std::setw(6) << r->runs << std::setw(8) << r->rate << std::setw(11)
          << r->per_cpu_second << std::setw(11) << 100 * r->cpu_share << '%' << std::setw(10) << 100 * r->redis_share
          << '%' << std::setw(11) << 100 * r->holder_share << '%' << std::setw(10) << r->p50_us << std::setw(10)
          << r->p99_us << std::setw(7) << std::setprecision(2)
          << (r->sent ? 100.0 * static_cast<double>(r->lost) / static_cast<double>(r->sent) : 0.0) << '%'
          << std::setw(8) << r->errors << '\n';
    }
  out << "(broker cpu: the broker the requests go to; redis cpu: redis-server's; holder cpu: cross's other broker,\n"
         " which holds the peers and sends their Introduces; each as a share of the run's wall time)\n";
}

// a's p50 and p99 minus b's, and the median of the rounds' own p50 differences with their range.
void print_added_latency(std::ostream& out, const char* what, const std::vector<median_record>& m,
                         const std::vector<run_record>& runs, request_kind k, const char* a, const char* b,
                         double target_us) {
  const auto* x = find(m, k, a);
  const auto* y = find(m, k, b);
  if (!x || !y) return;
  // Each round ran a and b one after the other: their difference cancels the drift between rounds.
  std::vector<double> per_round;
  for (const auto& ra : runs)
    for (const auto& rb : runs)
      if (ra.kind == k && rb.kind == k && ra.target == a && rb.target == b && ra.round == rb.round)
        per_round.push_back(ra.result.p50_us - rb.result.p50_us);
  const auto [lo, hi] = std::minmax_element(per_round.begin(), per_round.end());
  const double added = x->p50_us - y->p50_us;
  out << std::left << std::setw(40) << what << std::right << std::fixed << std::setprecision(0) << std::setw(8)
      << x->p50_us << std::setw(8) << y->p50_us << std::showpos << std::setw(9) << added << std::setw(9)
      << x->p99_us - y->p99_us << std::setw(11) << median(per_round) << std::setw(8)
      << (per_round.empty() ? 0.0 : *lo) << std::noshowpos << '/' << std::showpos
      << (per_round.empty() ? 0.0 : *hi) << std::noshowpos;
  if (target_us > 0) out << "  <= " << target_us << "  " << (added <= target_us ? "met" : "NOT MET");
  out << '\n';
}

}  // namespace

void print_cluster(std::ostream& out, const std::vector<median_record>& m, const std::vector<run_record>& runs) {
  print_rates(out, m);
  out << '\n' << std::left << std::setw(40) << "added latency (us)" << std::right << std::setw(8) << "p50"
      << std::setw(8) << "of" << std::setw(9) << "+p50" << std::setw(9) << "+p99" << std::setw(11) << "per round"
      << std::setw(16) << "range" << "  target\n";
  print_added_latency(out, "Connect, held at b - held at a (Redis)", m, runs, request_kind::connect, "cross", "same",
                      2000);
  print_added_latency(out, "Connect, held at b - in-memory broker", m, runs, request_kind::connect, "cross", "broker",
                      0);
  print_added_latency(out, "Lookup, held at b - held at a (Redis)", m, runs, request_kind::lookup, "cross", "same", 0);
  print_added_latency(out, "Lookup, held at b - in-memory broker", m, runs, request_kind::lookup, "cross", "broker", 0);
  out << "(cross: requests at broker a for peers held at b; same: the same layout, peers held at a; the latency\n"
         " includes queueing at the load's window: run with --window 1 for the unloaded difference)\n";
  print_ratio_header(out, "Redis-backed broker / in-memory broker");
  print_ratio(out, "Register (refresh)", m, runs, request_kind::register_peer, "redis", "broker", 0.5);
  print_ratio(out, "Lookup, peer held here", m, runs, request_kind::lookup, "redis", "broker", 0.5);
  print_ratio(out, "Lookup, peer held at b (a Redis read)", m, runs, request_kind::lookup, "cross", "broker", 0.5);
  out << "(req/cpu-s of the broker the requests go to; Redis's CPU is beside it in the table above)\n";
}

}  // namespace punch::bench
