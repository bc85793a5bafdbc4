// The per-source rate limit of the broker and of the relay's ALLOCATE (server module;
// docs/protocol.md, "Rate limit"): a token bucket per source address in a table of fixed size, allocated once. A keyed hash
// (SipHash, libsodium's crypto_shorthash, with a random key) picks the bucket, so an attacker
// cannot aim at a victim's bucket by choosing addresses that collide with it.
#pragma once

#include "server/token_bucket.hpp"

#include "punch/transport.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace punch::detail {

class rate_limiter {
public:
  using clock = std::chrono::steady_clock;

  // `rate` tokens per second, at most `burst` saved up, `table` buckets; any of them 0: off.
  rate_limiter(std::uint32_t rate, std::uint32_t burst, std::size_t table)
      : rate_(static_cast<double>(rate) * 1e-9), burst_(burst) {
    if (rate == 0 || burst == 0 || table == 0) return;
    buckets_.assign(table, token_bucket{static_cast<double>(burst), 0});
    randombytes_buf(key_.data(), key_.size());
  }

  bool enabled() const noexcept { return !buckets_.empty(); }

  // Takes a token from the bucket of `address` (unmapped: IPv4 as IPv4); false when it has
  // none, and the datagram is to be dropped.
  bool admit(const asio::ip::address& address, clock::time_point now) noexcept {
    if (buckets_.empty()) return true;
    return buckets_[index_of(address)].take(now, rate_, static_cast<double>(burst_));
  }

private:
  // IPv4: the whole address. IPv6: its /64, the smallest block one site usually gets, so
  // that a host cannot multiply its rate by picking addresses in its own prefix.
  std::size_t index_of(const asio::ip::address& a) const noexcept {
    std::array<unsigned char, 8> in{};
    std::size_t n = 0;
    if (a.is_v4()) {
      const auto v4 = a.to_v4().to_bytes();
      n = std::copy(v4.begin(), v4.end(), in.begin()) - in.begin();
    } else {
      const auto v6 = a.to_v6().to_bytes();
      n = std::copy_n(v6.begin(), 8, in.begin()) - in.begin();
    }
    std::array<unsigned char, crypto_shorthash_BYTES> h;
    crypto_shorthash(h.data(), in.data(), n, key_.data());
    std::uint64_t v = 0;
    for (auto byte : h) v = (v << 8) | byte;
    return static_cast<std::size_t>(v % buckets_.size());
  }

  double rate_;  // tokens per nanosecond
  std::uint32_t burst_;
  std::vector<token_bucket> buckets_;
  std::array<unsigned char, crypto_shorthash_KEYBYTES> key_{};
};

}  // namespace punch::detail
