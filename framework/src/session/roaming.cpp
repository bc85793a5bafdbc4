// When the network changes (docs/nat-traversal.md): a connection whose path stopped
// answering re-registers its session; the side whose address changed asks the broker to
// re-introduce the two peers (Connect with RESUME), the other side does too after
// resume_delay; both punch again with the fresh introduction, and the connection takes the
// pair that answers, keeping its keys, its counters and its tag.
#include "session/session_state.hpp"

#include "session/connection_state.hpp"
#include "session/host_candidates.hpp"
#include "session/peer_answer.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sodium.h>

#include <algorithm>
#include <cstring>

namespace punch::detail {

asio::awaitable<void> session_state::relocate() {
  auto self = shared_from_this();
  const auto now = time.now();
  // Every connection that lost its path at about the same time shares one re-registration.
  if (auto r = last_relocation; r && (!r->done.fired() || now - r->finished < relocation_reuse)) {
    co_await r->done.wait_until(now + options.request_timeout);
    co_return;
  }
  auto r = std::make_shared<relocation>(ex, time);
  last_relocation = r;
  if (options.host_candidates.empty()) {
    host_candidates = detail::gather_host_candidates(net, socket.local_endpoint());
    if (host_candidates.size() > wire::max_host_candidates) host_candidates.resize(wire::max_host_candidates);
  }
  // A refresh from a new address is refused (its credential names the old one) and signed
  // again at once: the broker then holds the address it sees now.
  const auto deadline = time.now() + options.request_timeout;
  if (auto info = co_await do_register(deadline); !info) {
    if (!closed) emit({.what = session_event::kind::refresh_failed, .peer = options.id, .error = info.error().code});
    // Our path and the broker went silent together: perhaps the broker died, not the network.
    if (!closed && info.error().code == errc::broker_unreachable) co_await fail_over();
  } else {
    co_await register_other_family(*info, deadline);
    const bool changed = info->reflexive != registration.reflexive || info->reflexive_other != registration.reflexive_other;
    registration = *info;
    emit({.what = session_event::kind::refreshed, .peer = options.id, .address = info->reflexive});
    // The other connections moved with us: they check their paths now, not at their silence.
    if (changed) moved();
  }
  r->finished = time.now();
  r->done.fire();
}

asio::awaitable<void> session_state::recover(std::weak_ptr<connection_state> weak) {
  auto self = shared_from_this();
  co_await relocate();
  auto c = weak.lock();
  if (!c) co_return;
  struct done_recovering {
    connection_state& c;
    ~done_recovering() { c.recovering = false; }
  } guard{*c};
  if (!c->open || closed || !c->path_lost) co_return;
  // The side that moved re-introduces at once; the other gives it resume_delay, then asks
  // too (both moved, or a change the broker cannot see, such as a mapping that expired).
  const bool moved = registration.reflexive != c->our_reflexive || registration.reflexive_other != c->our_reflexive_other;
  if (!moved && time.now() < c->lost_at + options.resume_delay) {
    c->next_resume = c->lost_at + options.resume_delay;
    c->ticker.cancel();  // look again then
    co_return;
  }
  co_await resume(c);
  // Not before the punch_timeout of this one has passed: one re-introduction at a time.
  c->next_resume = time.now() + options.resume_delay;
  if (c->open) c->ticker.cancel();
}

asio::awaitable<void> session_state::resume(std::shared_ptr<connection_state> c) {
  const std::string what = "re-introducing \"" + c->peer + "\"";
  ++stats.resumes_requested;
  auto answer = co_await introduce_me(c->peer, &c->resume_id, time.now() + options.request_timeout, what);
  if (!answer) {
    // The broker forgot us or the peer, or cannot be reached: the next try (or the idle
    // timeout) decides. Our registration is renewed by the next relocate().
    if (!closed) emit({.what = session_event::kind::punch_failed, .peer = c->peer, .error = answer.error().code});
    co_return;
  }
  auto tok = answer->msg.find(wire::attr::token);
  if (!tok || tok->value.size() != wire::token_size) co_return;
  wire::token token;
  std::memcpy(token.data(), tok->value.data(), token.size());
  peer_info remote = detail::read_peer(answer->msg, c->peer);
  // The same peer or nobody: the connection's keys are bound to the key it proved.
  if (remote.key != c->attempt->peer_key || !c->open) co_return;
  auto a = make_attempt(token, c->peer, true, remote);
  unconnected.erase(a->keys.tag);  // its frames carry the connection's tag, not this one's
  a->keys.relay_id = c->relay_id;
  if (!co_await punch(a, time.now() + options.punch_timeout)) co_return;  // punch_failed was emitted
  if (!c->open) {
    drop_attempt(*a);
    co_return;
  }
  adopt(*c, *a);
  asio::co_spawn(ex, nominate(a, *a->selected), asio::detached);
}

asio::awaitable<void> session_state::accept_resume(std::shared_ptr<punch_attempt> a, std::weak_ptr<connection_state> weak) {
  auto self = shared_from_this();
  if (!co_await punch(a, time.now() + options.punch_timeout)) co_return;  // punch_failed was emitted
  auto c = weak.lock();
  if (!c || !c->open) {
    drop_attempt(*a);
    co_return;
  }
  adopt(*c, *a);
}

std::shared_ptr<connection_state> session_state::find_resumable(std::span<const std::byte> resume_id,
                                                                const peer_info& peer) {
  for (auto& [tag, weak] : connections) {
    auto c = weak.lock();
    if (c && c->open && c->peer == peer.id && c->attempt->peer_key == peer.key &&
        std::equal(resume_id.begin(), resume_id.end(), c->resume_id.begin(), c->resume_id.end()))
      return c;
  }
  return nullptr;
}

void session_state::adopt(connection_state& c, punch_attempt& a) {
  // The connection keeps its keys: this attempt's ephemeral secret has no use.
  sodium_memzero(a.ephemeral_secret.data(), a.ephemeral_secret.size());
  auto old = std::exchange(c.attempt, a.shared_from_this());
  a.conn = c.weak_from_this();
  c.move_path(*a.selected);
  if (old && old.get() != &a) {
    // Its checks, its prediction sockets and its relay allocation are of no use any more.
    finish_attempt(*old);
    if (auto it = punches.find(old->keys.punch_id); it != punches.end() && it->second == old) punches.erase(it);
  }
  if (c.path == path_kind::relay) asio::co_spawn(ex, keep_trying_direct(a.shared_from_this()), asio::detached);
}

void session_state::moved() {
  for (auto& [tag, weak] : connections)
    if (auto c = weak.lock(); c && c->open && !c->path_lost) {
      c->path_suspect = true;
      c->ticker.cancel();
    }
}

}  // namespace punch::detail
