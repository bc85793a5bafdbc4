// Nomination: the controlling side tells the other which pair it chose (USE-CANDIDATE), at
// connect and again for each upgrade (from the relay to a direct path, from IPv4 to IPv6);
// a nominated pair becomes the connection's path.
#include "session/session_state.hpp"

#include "session/connection_state.hpp"

namespace punch::detail {

namespace {

// The controlling side repeats its USE-CANDIDATE check until it is answered.
constexpr int nomination_attempts = 10;
constexpr std::chrono::milliseconds nomination_gap{100};

}  // namespace

// The controlling side tells the other which pair it chose (ICE's USE-CANDIDATE, RFC 8445 §7.2.2).
asio::awaitable<void> session_state::nominate(std::shared_ptr<punch_attempt> a, remote_candidate to) {
  auto self = shared_from_this();
  for (int i = 0; i < nomination_attempts && !closed && !a->nominated.fired(); ++i) {
    auto c = a->conn.lock();
    if (!c || !c->open) break;
    c.reset();
    co_await send_check(*a, to, true);
    co_await a->nominated.wait_until(time.now() + nomination_gap);
  }
  a->upgrading = false;
}

void session_state::switch_path(punch_attempt& a, const remote_candidate& to) {
  a.selected = to;
  auto c = a.conn.lock();
  if (!c || c->attempt.get() != &a || (c->remote == to.address && c->path == to.kind && c->via == to.via)) return;
  // The nomination settling both sides on one pair right after connect is no news; the
  // upgrades (from the relay to a direct path, from IPv4 to IPv6), a move to the relay
  // (path_mode::adaptive's), and any move after a re-introduction, are.
  const bool upgrade = (c->path == path_kind::relay) != (to.kind == path_kind::relay) ||
                       (to.kind != path_kind::relay && c->remote.address().is_v4() && to.address.address().is_v6());
  if (upgrade) return c->move_path(to);
  c->remote = to.address;
  c->path = to.kind;
  c->via = to.via;
}

}  // namespace punch::detail
