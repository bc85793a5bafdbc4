// Candidates learnt beside the registration rather than before it (a port mapping our gateway
// granted, a TURN allocation): neither holds up register_self; each is announced to the broker
// by a Register of its own once it exists, and its event is emitted when the broker knows it,
// so that a lookup made after the event sees the candidate.
#include "session/session_state.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

namespace punch::detail {

void session_state::announce_late(session_event e, std::optional<session_event>& pending, bool carried) {
  // Before our first registration ends, that registration tells it (late_candidates_registered);
  // after, a Register of its own.
  if (!registered) {
    pending = std::move(e);
    return;
  }
  if (carried) return emit_late(std::move(e));
  asio::co_spawn(ex, announce(std::move(e)), asio::detached);
}

void session_state::late_candidates_registered() {
  const std::pair<std::optional<session_event>*, bool> late[] = {
      {&pending_mapping_event, announced_mapped == mapped},
      {&pending_turn_event, turn_announced()},
  };
  for (auto [pending, carried] : late) {
    if (!*pending) continue;
    auto e = std::move(**pending);
    pending->reset();
    // It came while our Register was on its way, without it.
    if (!carried) {
      asio::co_spawn(ex, announce(std::move(e)), asio::detached);
      continue;
    }
    emit_late(std::move(e));
  }
}

asio::awaitable<void> session_state::announce(session_event e) {
  auto self = shared_from_this();
  const auto deadline = time.now() + options.request_timeout;
  auto info = co_await do_register(deadline);
  if (closed) co_return;
  // Not announced (the broker did not answer): the keepalive's next refresh carries it. The
  // event still says what was granted: `error` is for no grant at all.
  if (info) {
    co_await register_other_family(*info, deadline);
    registration = *info;
  }
  emit_late(std::move(e));
}

void session_state::emit_late(session_event e) {
  // The broker knows our relayed candidate now: connect() may introduce us (session.cpp).
  if (e.what == session_event::kind::turn_allocated) turn_settled.fire();
  emit(std::move(e));
}

}  // namespace punch::detail
