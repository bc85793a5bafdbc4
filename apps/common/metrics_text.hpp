// The Prometheus text exposition format (version 0.0.4), written by hand: a family's # HELP and
// # TYPE lines, then its samples; counters, gauges, labelled series and histograms. What
// punch-broker and punch-relay serve on --metrics (apps/common/metrics_http.hpp), and what
// their metrics.cpp fill in. See docs/deployment.md, "Metrics".
#pragma once

#include "punch/duration_histogram.hpp"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace punch::apps {

// One labelled series of a family: its label's value, and the sample.
struct labelled_value {
  std::string_view label_value;
  std::uint64_t value;
};

class metrics_text {
public:
  // `name` must end in _total (the format's rule for counters).
  void counter(std::string_view name, std::string_view help, std::uint64_t value);
  // A counter of seconds, not whole (CPU time); `name` ends in _seconds_total.
  void counter_seconds(std::string_view name, std::string_view help, double value);
  void gauge(std::string_view name, std::string_view help, double value);
  // A counter family with one label: name{label="value"} per series.
  void counters(std::string_view name, std::string_view help, std::string_view label,
                std::initializer_list<labelled_value> series);
  // A histogram of durations in seconds: name_bucket{le=...} (cumulative), name_sum, name_count.
  void histogram(std::string_view name, std::string_view help, const duration_histogram& h);

  const std::string& text() const noexcept { return text_; }
  std::string take() { return std::move(text_); }

private:
  void family(std::string_view name, std::string_view help, std::string_view type);
  void sample(std::string_view name, std::string_view labels, std::string_view value);

  std::string text_;
};

// One counter of a server's stats struct (broker_stats, relay_stats): its metric name and help,
// and the member that holds it. A server's table of these is what it sums and exposes.
template <typename Stats>
struct counter_field {
  const char* name;
  const char* help;
  std::uint64_t Stats::*member;
};

// Every counter of `fields`, read from `s`.
template <typename Stats, std::size_t N>
void add_counters(metrics_text& out, const counter_field<Stats> (&fields)[N], const Stats& s) {
  for (const auto& f : fields) out.counter(f.name, f.help, s.*f.member);
}

// A number as the format writes it: integers without a fraction, others with enough digits
// to read back the same double.
std::string metric_number(double v);

}  // namespace punch::apps
