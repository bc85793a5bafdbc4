// A token bucket (server module): `rate` tokens per second, at most `burst` saved up. The
// broker's per-address rate limit and the relay's per-side forwarding limit are buckets.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace punch::detail {

struct token_bucket {
  double tokens = 0;
  std::int64_t last = 0;  // ns of the clock at the last refill

  // Refills for the time since the last call, then takes a token; false when there is none
  // (the datagram is to be dropped). `rate_per_ns`: tokens per nanosecond.
  bool take(std::chrono::steady_clock::time_point now, double rate_per_ns, double burst) noexcept {
    const std::int64_t t = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
    // A clock that went back (an injected one) refills nothing.
    const double elapsed = static_cast<double>(std::max<std::int64_t>(t - last, 0));
    tokens = std::min(burst, tokens + elapsed * rate_per_ns);
    last = std::max(last, t);
    if (tokens < 1.0) return false;
    tokens -= 1.0;
    return true;
  }
};

// A full bucket whose refills count from `now`.
inline token_bucket full_bucket(double burst, std::chrono::steady_clock::time_point now) noexcept {
  return {burst, std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count()};
}

}  // namespace punch::detail
