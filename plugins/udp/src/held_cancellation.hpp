// A composed operation's hold on its caller's cancellation slot (udp plugin). An operation
// that waits more than once (for readability again after a wake-up that found nothing, for
// room in the send buffer again) must not lose a cancellation that comes between two waits:
// asio forwards it to the wait in flight, and once that wait has completed (its completion
// queued) nobody hears it, so the next wait would run until a datagram or room arrives. The
// hold stays on the caller's slot from the first wait to the completion, forwards every
// cancellation to the wait in flight and remembers it for the operation to check before it
// waits again.
#pragma once

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_type.hpp>

namespace punch::udp {

namespace asio = boost::asio;

// A handle: copied into each wait's handler; release() once, before the operation completes.
class held_cancellation {
public:
  held_cancellation() = default;

  // Holds `outer` when it is connected (a handler without a slot cannot be cancelled).
  static held_cancellation hold(asio::cancellation_slot outer) {
    held_cancellation h;
    if (outer.is_connected()) {
      h.outer_ = outer;
      // Lives in the slot's own memory (recycled by asio): holding allocates nothing.
      h.forward_ = &outer.template emplace<forwarder>();
    }
    return h;
  }

  bool holding() const noexcept { return forward_ != nullptr; }
  // The slot to bind to the wait in flight (unconnected when nothing is held).
  asio::cancellation_slot inner() const noexcept {
    return forward_ ? forward_->inner.slot() : asio::cancellation_slot();
  }
  // The caller asked for cancellation (any type: every wait of ours may be abandoned).
  bool requested() const noexcept { return forward_ && forward_->requested != asio::cancellation_type::none; }
  // Gives the caller's slot back; the wait in flight must have completed.
  void release() noexcept {
    if (!forward_) return;
    forward_ = nullptr;
    outer_.clear();
  }

private:
  // The handler installed on the caller's slot.
  struct forwarder {
    asio::cancellation_signal inner;
    asio::cancellation_type_t requested = asio::cancellation_type::none;
    void operator()(asio::cancellation_type_t type) {
      requested = requested | type;
      inner.emit(type);
    }
  };

  asio::cancellation_slot outer_;
  forwarder* forward_ = nullptr;
};

}  // namespace punch::udp
