// The Prometheus text exposition format (see metrics_text.hpp).
#include "metrics_text.hpp"

#include <charconv>
#include <cmath>

namespace punch::apps {
namespace {

// HELP text escapes backslash and newline; label values also the double quote (the format's
// only escapes).
std::string escaped(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (quote && c == '"') out += "\\\"";
    else out += c;
  }
  return out;
}

}  // namespace

std::string metric_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

void metrics_text::family(std::string_view name, std::string_view help, std::string_view type) {
  ((((text_ += "# HELP ") += name) += ' ') += escaped(help, false)) += '\n';
  ((((text_ += "# TYPE ") += name) += ' ') += type) += '\n';
}

void metrics_text::sample(std::string_view name, std::string_view labels, std::string_view value) {
  ((((text_ += name) += labels) += ' ') += value) += '\n';
}

void metrics_text::counter(std::string_view name, std::string_view help, std::uint64_t value) {
  family(name, help, "counter");
  sample(name, "", std::to_string(value));
}

void metrics_text::counter_seconds(std::string_view name, std::string_view help, double value) {
  family(name, help, "counter");
  sample(name, "", metric_number(value));
}

void metrics_text::gauge(std::string_view name, std::string_view help, double value) {
  family(name, help, "gauge");
  sample(name, "", metric_number(value));
}

void metrics_text::counters(std::string_view name, std::string_view help, std::string_view label,
                            std::initializer_list<labelled_value> series) {
  family(name, help, "counter");
  for (const auto& s : series) {
    const std::string labels = "{" + std::string(label) + "=\"" + escaped(s.label_value, true) + "\"}";
    sample(name, labels, std::to_string(s.value));
  }
}

void metrics_text::histogram(std::string_view name, std::string_view help, const duration_histogram& h) {
  family(name, help, "histogram");
  const std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < h.counts.size(); ++i) {
    cumulative += h.counts[i];
    const std::string le = i < duration_histogram::bounds_ns.size()
                               ? metric_number(static_cast<double>(duration_histogram::bounds_ns[i]) / 1e9)
                               : "+Inf";
    sample(bucket, "{le=\"" + le + "\"}", std::to_string(cumulative));
  }
  sample(std::string(name) + "_sum", "", metric_number(static_cast<double>(h.sum_ns) / 1e9));
  sample(std::string(name) + "_count", "", std::to_string(h.count));
}

}  // namespace punch::apps
