// A sliding window of frame counters already accepted (RFC 6479's bitmap, as IPsec and
// WireGuard keep one): a counter is fresh if it is newer than every accepted one, or within
// the last `size` of them and not accepted yet. Private header.
#pragma once

#include <array>
#include <cstdint>

namespace punch::detail {

class replay_window {
public:
  static constexpr std::uint64_t size = 1024;  // counters behind the newest still accepted

  // True if `n` may be accepted: not seen yet and not older than the window.
  bool fresh(std::uint64_t n) const noexcept {
    if (!any_ || n > highest_) return true;
    if (highest_ - n >= size) return false;
    return !test(n);
  }

  // Records `n` (call only after fresh(n) and after the frame authenticated).
  void accept(std::uint64_t n) noexcept {
    if (!any_ || n > highest_) {
      const std::uint64_t first = any_ ? highest_ + 1 : n;
      if (!any_ || n - first >= size) {
        bits_.fill(0);
      } else {
        for (std::uint64_t i = first; i <= n; ++i) clear(i);
      }
      highest_ = n;
      any_ = true;
    }
    set(n);
  }

  // True if every counter below `n` was accepted, as far as the window remembers: those
  // older than the window count as in (they can no longer be taken anyway).
  bool has_all_before(std::uint64_t n) const noexcept {
    if (n == 0) return true;
    if (!any_ || highest_ < n - 1) return false;
    const std::uint64_t oldest = highest_ >= size ? highest_ - size + 1 : 0;
    for (std::uint64_t i = oldest; i < n; ++i)
      if (!test(i)) return false;
    return true;
  }

private:
  static constexpr std::size_t words = size / 64;
  bool test(std::uint64_t n) const noexcept { return (bits_[(n / 64) % words] >> (n % 64)) & 1u; }
  void set(std::uint64_t n) noexcept { bits_[(n / 64) % words] |= std::uint64_t{1} << (n % 64); }
  void clear(std::uint64_t n) noexcept { bits_[(n / 64) % words] &= ~(std::uint64_t{1} << (n % 64)); }

  std::array<std::uint64_t, words> bits_{};
  std::uint64_t highest_ = 0;
  bool any_ = false;
};

}  // namespace punch::detail
