// The replay cache of timestamped Registers (replay_cache.hpp): a FIFO ring, expired from its
// front, indexed by a linear-probing table with backward-shift deletion (no tombstones, so
// lookups stay short however long the broker runs).
#include "broker/replay_cache.hpp"

#include <sodium.h>

#include <bit>
#include <cstring>

namespace punch::detail {

replay_cache::replay_cache(std::size_t capacity, clock::duration hold) : hold_(hold), ring_(capacity) {
  if (capacity == 0) return;
  // At most half full: probe chains stay a slot or two long.
  slots_.assign(std::bit_ceil(capacity * 2), empty);
  mask_ = slots_.size() - 1;
}

replay_cache::digest replay_cache::of(std::span<const std::byte> covered, std::span<const std::byte> signature) noexcept {
  digest d;
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, d.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(covered.data()), covered.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(signature.data()), signature.size());
  crypto_generichash_final(&st, reinterpret_cast<unsigned char*>(d.data()), d.size());
  return d;
}

std::size_t replay_cache::home(const digest& d) const noexcept {
  // A cryptographic digest: any 8 of its bytes are as good a hash as any.
  std::uint64_t h;
  std::memcpy(&h, d.data(), sizeof h);
  return static_cast<std::size_t>(h) & mask_;
}

std::size_t replay_cache::slot_of(const digest& d, std::uint32_t pos) const noexcept {
  std::size_t i = home(d);
  while (slots_[i] != pos) i = (i + 1) & mask_;
  return i;
}

void replay_cache::erase_slot(std::size_t i) noexcept {
  for (std::size_t j = i;;) {
    j = (j + 1) & mask_;
    if (slots_[j] == empty) break;
    const std::size_t k = home(ring_[slots_[j]].d);
    // The entry at j may stay when its home lies cyclically in (i, j]: a lookup from there
    // still reaches it without crossing the hole at i.
    const bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
    if (stays) continue;
    slots_[i] = slots_[j];
    i = j;
  }
  slots_[i] = empty;
}

void replay_cache::drop_expired(clock::time_point now) noexcept {
  while (count_ > 0 && ring_[head_].until <= now) {
    erase_slot(slot_of(ring_[head_].d, static_cast<std::uint32_t>(head_)));
    head_ = (head_ + 1) % ring_.size();
    --count_;
  }
}

bool replay_cache::contains(const digest& d, clock::time_point now) noexcept {
  drop_expired(now);
  if (count_ == 0) return false;
  for (std::size_t i = home(d); slots_[i] != empty; i = (i + 1) & mask_)
    if (ring_[slots_[i]].d == d) return true;
  return false;
}

bool replay_cache::has_room(clock::time_point now) noexcept {
  drop_expired(now);
  return count_ < ring_.size();
}

bool replay_cache::insert(const digest& d, clock::time_point now) noexcept {
  if (!has_room(now)) return false;
  const std::size_t pos = (head_ + count_) % ring_.size();
  ring_[pos] = {d, now + hold_};
  std::size_t i = home(d);
  while (slots_[i] != empty) i = (i + 1) & mask_;
  slots_[i] = static_cast<std::uint32_t>(pos);
  ++count_;
  return true;
}

}  // namespace punch::detail
