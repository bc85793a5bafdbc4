// The register-spoofed report: the cookie-mode ratio per round and the honest peer's lot.
#include "cookie_report.hpp"

#include <algorithm>
#include <iomanip>

namespace punch::bench {

void add_to(honest_result& total, const honest_result& run) {
  total.attempts += run.attempts;
  total.registered += run.registered;
  total.first_datagram += run.first_datagram;
  total.resent += run.resent;
  total.latency_ms.insert(total.latency_ms.end(), run.latency_ms.begin(), run.latency_ms.end());
}

void print_cookie(std::ostream& out, const std::vector<median_record>& m, const std::vector<run_record>& runs,
                  const std::map<std::string, honest_result>& honest) {
  out << "\ncookie mode under a spoofed flood (register-spoofed; CPU per spoofed Register / per Binding = Binding's "
         "req/cpu-s / spoofed req/cpu-s)\n";
  for (const auto& [target, h] : honest) {
    const auto* b = find(m, request_kind::binding, target);
    const auto* s = find(m, request_kind::register_spoofed, target);
    if (b && s && s->per_cpu_second > 0) {
      std::vector<double> per_round;
      out << target << ": per round";
      for (const auto& rb : runs) {
        if (rb.kind != request_kind::binding || rb.target != target) continue;
        for (const auto& rs : runs)
          if (rs.kind == request_kind::register_spoofed && rs.target == target && rs.round == rb.round &&
              rs.per_cpu_second() > 0) {
            per_round.push_back(rb.per_cpu_second() / rs.per_cpu_second());
            out << ' ' << std::fixed << std::setprecision(2) << per_round.back() << 'x';
          }
      }
      const double of_medians = b->per_cpu_second / s->per_cpu_second;
      const double med = median(per_round);
      out << "; median " << med << "x, of the medians " << of_medians << "x  <= 2x  " << (med <= 2 ? "met" : "NOT MET")
          << '\n';
    }
    // What the broker verified and took (a success answer) against what it challenged unverified.
    std::uint64_t taken = 0, challenged = 0;
    double seconds = 0;
    for (const auto& r : runs)
      if (r.kind == request_kind::register_spoofed && r.target == target) {
        taken += r.result.ok;
        challenged += r.result.errors;
        seconds += r.result.seconds;
      }
    out << target << ": spoofed Registers taken (verified) " << taken << ", challenged " << challenged << " ("
        << std::setprecision(0) << (seconds > 0 ? static_cast<double>(taken) / seconds : 0.0) << " taken/s)\n";
    auto latency = h.latency_ms;
    std::sort(latency.begin(), latency.end());
    out << target << ": honest registrations during the flood: " << h.registered << " of " << h.attempts
        << " succeeded (" << h.first_datagram << " on the first datagram, the rest through the NONCE), "
        << h.resent << " datagrams resent";
    if (!latency.empty())
      out << "; latency p50 " << std::setprecision(2) << latency[latency.size() / 2] << " ms, max " << latency.back()
          << " ms";
    out << '\n';
  }
}

bool honest_check(std::ostream& out, const std::map<std::string, honest_result>& honest) {
  bool ok = true;
  for (const auto& [target, h] : honest)
    if (h.attempts == 0 || h.registered != h.attempts) {
      out << "smoke: FAILED: honest registrations at " << target << " during the flood: " << h.registered << " of "
          << h.attempts << '\n';
      ok = false;
    }
  return ok;
}

}  // namespace punch::bench
