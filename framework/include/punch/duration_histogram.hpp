// A fixed-bucket histogram of durations, as Prometheus exposes one (cumulative buckets, a sum
// and a count): how long the broker and the relay took to handle each datagram
// (broker_stats::handling, relay_stats::handling). Recording is a few compares and three
// increments, never an allocation, so the serve loop can record every datagram.
#pragma once

#include "punch/export.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace punch {

struct PUNCH_EXPORT duration_histogram {
  // Upper bounds of the buckets, in nanoseconds: a datagram takes about a microsecond to
  // handle, a signed Register tens of microseconds (Ed25519), a stall a millisecond or more.
  static constexpr std::array<std::uint64_t, 12> bounds_ns{
      1'000, 2'500, 5'000, 10'000, 25'000, 50'000, 100'000, 250'000, 500'000, 1'000'000, 5'000'000, 25'000'000};

  // counts[i]: durations in (bounds_ns[i-1], bounds_ns[i]]; the last: above every bound (+Inf).
  // Not cumulative: the exposition adds them up.
  std::array<std::uint64_t, bounds_ns.size() + 1> counts{};
  std::uint64_t sum_ns = 0;
  std::uint64_t count = 0;

  void record(std::chrono::nanoseconds d) noexcept {
    const auto ns = static_cast<std::uint64_t>(d.count() < 0 ? 0 : d.count());
    std::size_t i = 0;
    while (i < bounds_ns.size() && ns > bounds_ns[i]) ++i;
    ++counts[i];
    sum_ns += ns;
    ++count;
  }

  // Several servers' histograms as one (punch-broker --threads).
  duration_histogram& operator+=(const duration_histogram& other) noexcept {
    for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += other.counts[i];
    sum_ns += other.sum_ns;
    count += other.count;
    return *this;
  }
};

}  // namespace punch
