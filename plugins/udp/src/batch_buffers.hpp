// The batched udp socket's buffers: the send queue and the receive queue of single
// operations, and the message headers that point recvmmsg/sendmmsg straight into a caller's
// batch. Laid out once per socket, so that no operation allocates.
#pragma once

#include "batch_socket.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <span>
#include <vector>

namespace punch::udp {

using slot_bytes = std::array<std::byte, batch_socket::max_datagram>;

// The send queue: N datagrams with their addresses, laid out for sendmmsg.
struct datagram_batch {
  explicit datagram_batch(std::size_t n) : bytes(n), names(n), iov(n), msgs(n) {}
  std::vector<slot_bytes> bytes;
  std::vector<sockaddr_storage> names;
  std::vector<iovec> iov;
  std::vector<mmsghdr> msgs;
  std::size_t count = 0;  // queued
  std::size_t next = 0;   // the next one to send
};

// The receive queue of single receives: one recvmmsg fills the slots (each pointing at its
// own bytes), and the receives take them one at a time.
struct receive_queue {
  explicit receive_queue(std::size_t n) : bytes(n), slots(n) {
    for (std::size_t i = 0; i < n; ++i) slots[i].buffer = asio::buffer(bytes[i]);
  }
  std::vector<slot_bytes> bytes;
  std::vector<received_datagram> slots;
  std::size_t count = 0;  // filled
  std::size_t next = 0;   // the next one to hand out
};

// Message headers pointing into a caller's batch (async_receive_batch, async_send_batch).
struct direct_headers {
  explicit direct_headers(std::size_t n) : iov(n), msgs(n) {}
  std::vector<iovec> iov;
  std::vector<mmsghdr> msgs;

  // Up to msgs.size() slots; returns how many were prepared.
  std::size_t prepare(std::span<received_datagram> slots) {
    const std::size_t n = std::min(slots.size(), msgs.size());
    for (std::size_t i = 0; i < n; ++i) {
      iov[i] = {slots[i].buffer.data(), slots[i].buffer.size()};
      msgs[i].msg_hdr = {};
      msgs[i].msg_hdr.msg_name = slots[i].from.data();
      msgs[i].msg_hdr.msg_namelen = static_cast<socklen_t>(slots[i].from.capacity());
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    return n;
  }
  std::size_t prepare(std::span<const outgoing_datagram> datagrams) {
    const std::size_t n = std::min(datagrams.size(), msgs.size());
    for (std::size_t i = 0; i < n; ++i) {
      // sendmmsg only reads through these pointers.
      iov[i] = {const_cast<void*>(datagrams[i].data.data()), datagrams[i].data.size()};
      msgs[i].msg_hdr = {};
      msgs[i].msg_hdr.msg_name = const_cast<sockaddr*>(datagrams[i].to.data());
      msgs[i].msg_hdr.msg_namelen = static_cast<socklen_t>(datagrams[i].to.size());
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    return n;
  }
};

}  // namespace punch::udp
