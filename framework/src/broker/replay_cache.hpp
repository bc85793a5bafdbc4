// The broker's replay cache (docs/protocol.md, "TIMESTAMP"; docs/security.md, "Replay"): the
// digests of the timestamped Registers it took on their first datagram, each kept for as long
// as its TIMESTAMP could still pass the freshness window, so that the same bytes sent again
// (from anywhere) are refused. Bounded: a fixed ring of `capacity` digests in arrival order
// and an open-addressing index over it, both allocated once; nothing allocates per Register.
// When it is full of live entries it takes no more, and the broker sends the NONCE challenge
// instead: a full cache costs honest peers one round trip, never safety.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace punch::detail {

class replay_cache {
public:
  using clock = std::chrono::steady_clock;
  // BLAKE2b-128 of the signed bytes and their SIGNATURE: the same Register, byte for byte.
  using digest = std::array<std::byte, 16>;

  // `capacity` digests at most (0: none; every timestamped Register then gets the NONCE
  // challenge), each held `hold` after it was taken.
  replay_cache(std::size_t capacity, clock::duration hold);

  // The digest of a Register: `covered` is what its SIGNATURE signs, `signature` its value.
  static digest of(std::span<const std::byte> covered, std::span<const std::byte> signature) noexcept;

  // True if `d` was taken less than `hold` before `now`.
  bool contains(const digest& d, clock::time_point now) noexcept;
  // True if insert() at `now` would find room.
  bool has_room(clock::time_point now) noexcept;
  // Remembers `d` until now + hold; false (nothing remembered) when full.
  bool insert(const digest& d, clock::time_point now) noexcept;

  std::size_t size() const noexcept { return count_; }
  std::size_t capacity() const noexcept { return ring_.size(); }

private:
  static constexpr std::uint32_t empty = UINT32_MAX;
  struct entry {
    digest d{};
    clock::time_point until{};
  };

  std::size_t home(const digest& d) const noexcept;
  // The index slot that holds ring position `pos` (whose digest is `d`).
  std::size_t slot_of(const digest& d, std::uint32_t pos) const noexcept;
  // Empties slot `i` and shifts the probe chain after it back (linear probing's deletion).
  void erase_slot(std::size_t i) noexcept;
  void drop_expired(clock::time_point now) noexcept;

  clock::duration hold_;
  std::vector<entry> ring_;            // arrival order: the oldest at head_
  std::vector<std::uint32_t> slots_;   // ring positions by digest; twice the ring, a power of two
  std::size_t mask_ = 0;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

}  // namespace punch::detail
