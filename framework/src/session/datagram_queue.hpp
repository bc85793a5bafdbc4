// A connection's received datagrams waiting for receive() (private header): a ring of buffers
// that grows up to its capacity and keeps what it grew, so that a warm queue allocates nothing
// however datagrams come and go, and an empty one costs one pointer and three counts.
#pragma once

#include <boost/asio/buffer.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <span>
#include <vector>

namespace punch::detail {

class datagram_queue {
public:
  explicit datagram_queue(std::size_t capacity) : capacity_(capacity) {}

  bool empty() const noexcept { return count_ == 0; }
  bool full() const noexcept { return count_ == capacity_; }
  std::size_t size() const noexcept { return count_; }

  // Copies `d` in at the back; false (nothing kept) when full.
  bool push(std::span<const std::byte> d) {
    if (full()) return false;
    if (count_ == ring_.size()) grow();
    ring_[(head_ + count_) % ring_.size()].assign(d.begin(), d.end());
    ++count_;
    return true;
  }

  // Copies the front datagram into `to` (truncated to it) and drops it; the bytes copied.
  // The queue must not be empty.
  std::size_t pop(boost::asio::mutable_buffer to) noexcept {
    const std::vector<std::byte>& front = ring_[head_];
    const std::size_t n = std::min(front.size(), to.size());
    if (n) std::memcpy(to.data(), front.data(), n);
    head_ = (head_ + 1) % ring_.size();
    --count_;
    return n;
  }

private:
  // Full ring: put the front first, then add as many slots again (4 at first).
  void grow() {
    std::rotate(ring_.begin(), ring_.begin() + static_cast<std::ptrdiff_t>(head_), ring_.end());
    head_ = 0;
    ring_.resize(std::min(capacity_, std::max<std::size_t>(4, ring_.size() * 2)));
  }

  std::size_t capacity_;
  std::vector<std::vector<std::byte>> ring_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

}  // namespace punch::detail
