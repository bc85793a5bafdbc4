// Tables and CSV for punch-bench.
#include "report.hpp"

#include <algorithm>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <stdexcept>

namespace punch::bench {
namespace {

std::ofstream open(const std::string& path) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot write " + path);
  return out;
}

}  // namespace

const median_record* find(const std::vector<median_record>& m, request_kind k, const std::string& target) {
  for (const auto& r : m)
    if (r.kind == k && r.target == target) return &r;
  return nullptr;
}

std::vector<median_record> median_of(const std::vector<run_record>& runs) {
  std::vector<median_record> out;
  for (const auto& r : runs) {
    if (find(out, r.kind, r.target)) continue;
    median_record m{.kind = r.kind, .target = r.target};
    std::vector<double> rate, p50, p99, efficiency, share, redis, holder;
    for (const auto& s : runs) {
      if (s.kind != r.kind || s.target != r.target) continue;
      ++m.runs;
      rate.push_back(s.result.rate());
      efficiency.push_back(s.per_cpu_second());
      share.push_back(s.result.seconds > 0 ? s.server_cpu_s / s.result.seconds : 0);
      redis.push_back(s.result.seconds > 0 ? s.redis_cpu_s / s.result.seconds : 0);
      holder.push_back(s.result.seconds > 0 ? s.holder_cpu_s / s.result.seconds : 0);
      p50.push_back(s.result.p50_us);
      p99.push_back(s.result.p99_us);
      m.sent += s.result.sent;
      m.errors += s.result.errors;
      m.lost += s.result.lost;
    }
    m.rate = median(rate);
    m.p50_us = median(p50);
    m.p99_us = median(p99);
    m.per_cpu_second = median(efficiency);
    m.cpu_share = median(share);
    m.redis_share = median(redis);
    m.holder_share = median(holder);
    out.push_back(m);
  }
  return out;
}

void print_table(std::ostream& out, const std::vector<median_record>& m) {
  int width = 9;  // the server column: the broker's targets fit; the relay's are "relay/1200" and such
  for (const auto& r : m) width = std::max(width, static_cast<int>(r.target.size()) + 1);
  out << "\nrequest          " << std::left << std::setw(width) << "server" << std::right << "runs   req/s  req/cpu-s  server cpu  p50 (us)  p99 (us)    loss  errors  vs echo (req/s, req/cpu-s)\n";
  for (const auto& r : m) {
    const auto* echo = find(m, r.kind, "echo");
    out << std::left << std::setw(17) << name_of(r.kind) << std::setw(width) << r.target << std::right << std::fixed
        << std::setw(4) << r.runs << std::setprecision(0) << std::setw(8) << r.rate << std::setw(11)
        << r.per_cpu_second << std::setw(11) << 100 * r.cpu_share << '%' << std::setw(10) << r.p50_us
        << std::setw(10) << r.p99_us << std::setw(7) << std::setprecision(2)
        << (r.sent ? 100.0 * static_cast<double>(r.lost) / static_cast<double>(r.sent) : 0.0) << '%' << std::setw(8)
        << r.errors;
    if (echo && echo->rate > 0 && echo->per_cpu_second > 0 && r.target != "echo")
      out << std::setw(9) << r.rate / echo->rate << "x, " << r.per_cpu_second / echo->per_cpu_second << 'x';
    out << '\n';
  }
}

void print_ratio(std::ostream& out, const char* what, const std::vector<median_record>& m,
                 const std::vector<run_record>& runs, request_kind k, const char* a, const char* b, double target) {
  const auto* x = find(m, k, a);
  const auto* y = find(m, k, b);
  if (!x || !y || y->rate <= 0 || y->per_cpu_second <= 0) return;
  const double by_rate = x->rate / y->rate, by_cpu = x->per_cpu_second / y->per_cpu_second;
  // Each round ran a and b back to back: their ratio cancels the machine's drift between rounds.
  std::vector<double> per_round;
  for (const auto& ra : runs) {
    if (ra.kind != k || ra.target != a) continue;
    for (const auto& rb : runs)
      if (rb.kind == k && rb.target == b && rb.round == ra.round && rb.per_cpu_second() > 0)
        per_round.push_back(ra.per_cpu_second() / rb.per_cpu_second());
  }
  const auto [lo, hi] = std::minmax_element(per_round.begin(), per_round.end());
  out << std::left << std::setw(48) << what << std::right << std::fixed << std::setprecision(2) << std::setw(9)
      << by_rate << 'x' << std::setw(10) << by_cpu << 'x' << std::setw(12) << median(per_round) << 'x' << std::setw(6)
      << (per_round.empty() ? 0.0 : *lo) << '-' << std::setw(4) << (per_round.empty() ? 0.0 : *hi) << "x  >= "
      << target << "x  " << (by_cpu >= target ? "met" : "NOT MET") << '\n';
}

void print_ratio_header(std::ostream& out, const char* title) {
  out << '\n' << std::left << std::setw(48) << title << std::right << std::setw(10) << "req/s" << std::setw(11)
      << "req/cpu-s" << std::setw(13) << "per round" << std::setw(12) << "range" << "  target\n";
}

void print_ratios(std::ostream& out, const std::vector<median_record>& m, const std::vector<run_record>& runs) {
  print_ratio_header(out, "ratios from the same interleaved run");
  print_ratio(out, "broker Binding / echo ceiling", m, runs, request_kind::binding, "broker", "echo", 0.8);
  print_ratio(out, "broker Register (refresh) / echo ceiling", m, runs, request_kind::register_peer, "broker", "echo", 0.6);
  print_ratio(out, "broker Lookup / echo ceiling", m, runs, request_kind::lookup, "broker", "echo", 0.6);
  print_ratio(out, "broker Binding / coturn Binding", m, runs, request_kind::binding, "broker", "coturn", 1.5);
  out << "(req/s and req/cpu-s: ratios of the medians; per round: the median of each round's req/cpu-s ratio, and\n"
         " its range; met: judged by req/cpu-s, since req/s follows the machine's load)\n";
}

void print_memory(std::ostream& out, const std::vector<memory_point>& points, const char* what, const char* each) {
  out << '\n' << std::setw(16) << what << "   VmRSS (MiB)  VmHWM (MiB)  " << std::setw(10) << ("bytes/" + std::string(each))
      << "  failed\n";
  const double base = points.empty() ? 0 : static_cast<double>(points.front().rss_kib);
  for (const auto& p : points) {
    out << std::setw(16) << p.peers << std::fixed << std::setprecision(1) << std::setw(13)
        << static_cast<double>(p.rss_kib) / 1024 << std::setw(13) << static_cast<double>(p.hwm_kib) / 1024
        << std::setw(12) << std::setprecision(0)
        << (p.peers ? (static_cast<double>(p.rss_kib) - base) * 1024 / static_cast<double>(p.peers) : 0.0)
        << std::setw(8) << p.failed << '\n';
  }
}

void write_csv(const std::string& path, const std::vector<run_record>& runs, const std::vector<median_record>& m) {
  auto out = open(path);
  out << "round,request,server,rate,per_cpu_second,p50_us,p99_us,sent,ok,errors,lost\n";
  for (const auto& r : runs)
    out << r.round << ',' << name_of(r.kind) << ',' << r.target << ',' << r.result.rate() << ','
        << r.per_cpu_second() << ',' << r.result.p50_us
        << ',' << r.result.p99_us << ',' << r.result.sent << ',' << r.result.ok << ',' << r.result.errors << ','
        << r.result.lost << '\n';
  for (const auto& r : m)
    out << "median," << name_of(r.kind) << ',' << r.target << ',' << r.rate << ',' << r.per_cpu_second << ','
        << r.p50_us << ',' << r.p99_us
        << ',' << r.sent << ",," << r.errors << ',' << r.lost << '\n';
}

void write_memory_csv(const std::string& path, const std::vector<memory_point>& points) {
  auto out = open(path);
  out << "peers,rss_kib,hwm_kib,failed\n";
  for (const auto& p : points) out << p.peers << ',' << p.rss_kib << ',' << p.hwm_kib << ',' << p.failed << '\n';
}

bool smoke_check(std::ostream& out, const std::vector<median_record>& m, const std::vector<memory_point>& memory,
                 std::uint64_t peers) {
  bool ok = true;
  auto fail = [&](const std::string& why) {
    out << "smoke: FAILED: " << why << '\n';
    ok = false;
  };
  for (const auto& r : m) {
    const std::string what = std::string(name_of(r.kind)) + " on " + r.target;
    if (r.rate <= 0) fail(what + ": no answers");
    // A spoofed flood's answers are its challenges: errors by design, and none means the
    // broker never went into cookie mode.
    if (r.kind == request_kind::register_spoofed) {
      if (r.errors == 0 && r.target != "echo") fail(what + ": no challenges (never in cookie mode)");
    } else if (r.errors > 0) {
      fail(what + ": " + std::to_string(r.errors) + " error answers");
    }
    // UDP on a loaded machine drops some: the smoke test checks that the bench works, not
    // the numbers, so only a loss of more than a fifth fails it.
    if (r.lost * 5 > r.sent) fail(what + ": " + std::to_string(r.lost) + " of " + std::to_string(r.sent) + " lost");
  }
  if (peers > 0) {
    if (memory.empty() || memory.back().peers != peers || memory.back().failed > 0) fail("registering the peers");
    else if (memory.back().hwm_kib == 0) fail("no VmHWM for the broker");
  }
  if (ok) out << "smoke: ok\n";
  return ok;
}

int finish_run(const std::string& csv, const std::string& memory_csv, bool smoke, const std::vector<run_record>& runs,
               const std::vector<median_record>& m, const std::vector<memory_point>& memory, std::uint64_t peers) {
  if (!csv.empty()) write_csv(csv, runs, m);
  if (!memory_csv.empty()) write_memory_csv(memory_csv, memory);
  if (smoke) return smoke_check(std::cout, m, memory, peers) ? 0 : 1;
  return 0;
}

}  // namespace punch::bench
