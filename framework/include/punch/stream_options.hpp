// How a stream carries what is written on it (docs/streams.md, "Message mode"): a reliable,
// ordered byte stream (the default), or messages whose boundaries are kept, delivered in
// order or as they come, reliably or with a limit on retransmissions or lifetime (SCTP's
// partial reliability, RFC 3758), as WebRTC's data channels offer.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace punch {

enum class stream_mode : std::uint8_t {
  bytes,     // async_read_some / async_write_some: a reliable, ordered byte stream
  messages,  // async_send_message / async_receive_message: one send is one receive, or none
};

// The opener's choice: the open message carries it to the peer (docs/protocol.md, "Streams"),
// whose accepted stream has the same options; both directions of the stream follow them.
// For messages only:
//   ordered = false              a message is delivered as soon as it arrives, maybe before
//                                one sent earlier
//   max_retransmits = n          a message is sent at most 1 + n times, then abandoned
//   max_lifetime = t             a message not delivered within t (of the real clock) is
//                                abandoned
// At most one of max_retransmits and max_lifetime; neither means reliable. A byte stream takes
// none of them (errc::bad_stream_options): its bytes are always reliable and in order.
struct stream_options {
  stream_mode mode = stream_mode::bytes;
  bool ordered = true;
  std::optional<std::uint16_t> max_retransmits{};
  std::optional<std::chrono::milliseconds> max_lifetime{};

  // The largest message (bytes); a longer send is errc::stream_message_too_large. SCTP takes
  // a message whole into its send buffer and hands it whole to the reader, and one read of
  // the association's buffer takes up to this much.
  static constexpr std::size_t max_message_size = 64 * 1024;

  // Messages may be lost (a retransmission or lifetime limit).
  bool partially_reliable() const noexcept { return max_retransmits || max_lifetime; }
  // The options do not contradict each other (see above).
  bool valid() const noexcept {
    if (mode == stream_mode::bytes) return ordered && !partially_reliable();
    if (max_retransmits && max_lifetime) return false;
    return !max_lifetime || (max_lifetime->count() >= 0 && max_lifetime->count() <= 0xFFFF'FFFF);
  }
};

}  // namespace punch
