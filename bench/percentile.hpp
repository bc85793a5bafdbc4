// The percentile of a sample, as the simulated-network benches report it (nearest rank), and
// the median the interleaved benches report.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace punch::bench {

// The value at rank p (0..1) of `v` once sorted; 0 for an empty sample.
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// The middle value of `v` (the mean of the two middle ones for an even count); 0 if empty.
inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace punch::bench
