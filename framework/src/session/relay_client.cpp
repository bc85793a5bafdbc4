// The relay client: when no direct pair has answered in time, an ALLOCATE at the relay makes
// the relay's endpoint one more candidate of the punch attempt.
#include "session/session_state.hpp"

#include <algorithm>

namespace punch::detail {

// At relay_after without an answered pair (checks.cpp starts it with the punch).
asio::awaitable<void> session_state::allocate_relay(std::shared_ptr<punch_attempt> a, clock::time_point deadline) {
  auto self = shared_from_this();
  // A direct pair that answers within relay_after makes the relay unnecessary. Port
  // prediction gets two seconds of probing first (2000 probes against 256 mappings miss about
  // once in 3000); the relay would win the race otherwise, and the upgrade come later.
  // relay_only allocates at once: no direct pair will answer. adaptive allocates even when
  // one did (a standby for when the direct path turns lossy), so it waits out relay_after.
  const auto mode = options.path_policy.mode;
  const bool first = a->relay_first || mode == path_mode::relay_only;
  const bool standby = mode == path_mode::adaptive;
  const auto from = first ? a->started : a->started + options.relay_after;
  if (!co_await relay_due(*a, std::min(from, deadline))) co_return;
  // Prediction decides whether it runs only when it is due (and may start a round trip late,
  // having asked the broker for the peer's mapping): look again after each wait.
  for (int i = 0; i < 3 && !first && a->prediction_start; ++i) {
    const auto until = *a->prediction_start + std::chrono::seconds(2);
    if (until <= time.now()) break;
    if (!co_await relay_due(*a, std::min(until, deadline))) co_return;
  }
  const endpoint relay = *options.relay;
  const std::string what = "allocating at the relay for \"" + a->peer + "\"";
  for (int attempt = 1; attempt <= 3 && !closed && (standby || !a->done.fired()); ++attempt) {
    const bool with_nonce = !relay_nonce.empty();
    auto r = co_await request(
        wire::method::allocate,
        [&](stun::builder& b) {
          b.add(wire::attr::relay_id, a->keys.relay_id);
          if (with_nonce) b.add(wire::attr::nonce, relay_nonce);
        },
        deadline, what, false, relay);
    if (!r) {
      // 401 (no nonce yet, or a stale one) is answered with a fresh nonce: ask again once.
      if (r.error().code == errc::authentication_failed && !relay_nonce.empty()) continue;
      co_return;  // the relay is unreachable or refused: direct paths only
    }
    if (!a->find(relay)) a->remotes.push_back({relay, path_kind::relay});
    co_return;
  }
}

}  // namespace punch::detail
