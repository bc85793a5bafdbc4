// Buffers for moving datagrams in batches through a transport (private header): the session's
// receive slots (async_receive_batch) and batches of sealed frames (async_send_batch). Each is
// laid out once, so that a warm data path allocates nothing per datagram.
#pragma once

#include "punch/transport.hpp"

#include <boost/asio/buffer.hpp>

#include <cstddef>
#include <span>
#include <vector>

namespace punch::detail {

// `count` slots of `size` bytes each, for async_receive_batch; grow() adds slots between
// receives (the slots' buffers move).
struct receive_slots {
  receive_slots(std::size_t count, std::size_t size) : size(size) { grow(count); }
  void grow(std::size_t count) {
    bytes.resize(count * size);
    slots.resize(count);
    for (std::size_t i = 0; i < count; ++i) slots[i].buffer = asio::buffer(bytes.data() + i * size, size);
  }
  // The datagram received into slot i.
  std::span<std::byte> datagram(std::size_t i) {
    return {static_cast<std::byte*>(slots[i].buffer.data()), slots[i].size};
  }

  std::size_t size;
  std::vector<std::byte> bytes;
  std::vector<received_datagram> slots;
};

// Up to `count` frames of at most `frame_size` bytes each, sealed in place and sent with one
// async_send_batch. The frames and the list must stay put until that send completes.
class frame_batch {
public:
  frame_batch(std::size_t count, std::size_t frame_size) : frame_size_(frame_size), bytes_(count * frame_size), list_(count) {}

  bool full() const noexcept { return count_ == list_.size(); }
  bool empty() const noexcept { return count_ == 0; }
  std::size_t frame_size() const noexcept { return frame_size_; }
  // Where the next frame is sealed (frame_size bytes); add() then queues what was written.
  std::span<std::byte> next_slot() noexcept { return {bytes_.data() + count_ * frame_size_, frame_size_}; }
  void add(std::span<const std::byte> frame, const endpoint& to) noexcept {
    list_[count_++] = {asio::buffer(frame.data(), frame.size()), to};
  }
  std::span<const outgoing_datagram> queued() const noexcept { return {list_.data(), count_}; }
  void clear() noexcept { count_ = 0; }

private:
  std::size_t frame_size_;
  std::vector<std::byte> bytes_;
  std::vector<outgoing_datagram> list_;
  std::size_t count_ = 0;
};

}  // namespace punch::detail
