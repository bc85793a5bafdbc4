// A server's load signal (server module): how many costly operations (the broker's signature
// verifications) it did in the last second, estimated from two one-second windows the way a
// sliding-window rate limiter does, in a few integers and no allocation. The broker compares
// it with broker_options::cookie_threshold to decide when to answer timestamped Registers
// with the NONCE challenge first ("cookie mode", docs/security.md).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace punch::detail {

class load_meter {
public:
  using clock = std::chrono::steady_clock;

  // One operation done at `now`.
  void count(clock::time_point now) noexcept {
    roll(now);
    ++current_;
  }

  // Operations in the second before `now`: this window's count plus the previous window's,
  // weighted by how much of it still lies within that second.
  std::uint64_t last_second(clock::time_point now) noexcept {
    roll(now);
    const auto into = now - start_;
    const auto left = window - std::min<clock::duration>(into, window);
    return current_ + static_cast<std::uint64_t>(previous_ * left.count() / window.count());
  }

private:
  static constexpr clock::duration window = std::chrono::seconds(1);

  void roll(clock::time_point now) noexcept {
    if (now - start_ < window) return;
    // One window on: this one becomes the previous; more than one: both are empty.
    previous_ = now - start_ < 2 * window ? current_ : 0;
    current_ = 0;
    start_ = now - (now - start_) % window;
  }

  clock::time_point start_{};
  std::uint64_t current_ = 0;
  std::uint64_t previous_ = 0;
};

}  // namespace punch::detail
