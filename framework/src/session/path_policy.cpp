// The path policy (session_options::path_policy): which pairs a session may use, and
// path_mode::adaptive's switch between the direct pair and the relayed one on the direct
// pair's measured loss, with hysteresis (docs/nat-traversal.md, "Path policy").
#include "session/session_state.hpp"

#include "session/connection_state.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sodium.h>

#include <algorithm>
#include <sstream>

namespace punch {

const char* to_string(path_mode m) noexcept {
  switch (m) {
    case path_mode::any: return "any";
    case path_mode::direct_only: return "direct";
    case path_mode::relay_only: return "relay";
    case path_mode::adaptive: return "adaptive";
  }
  return "unknown";
}

std::optional<path_mode> parse_path_mode(std::string_view s) noexcept {
  for (auto m : {path_mode::any, path_mode::direct_only, path_mode::relay_only, path_mode::adaptive})
    if (s == to_string(m)) return m;
  return std::nullopt;
}

}  // namespace punch

namespace punch::detail {

bool session_state::allowed(const endpoint& to, std::size_t via, path_kind kind) const {
  switch (options.path_policy.mode) {
    case path_mode::direct_only: return kind != path_kind::relay && !ours_relayed(to, via);
    // The peer's relayed candidate is reached from our own socket: its TURN server would tell
    // the peer our address, so only our own allocations count.
    case path_mode::relay_only: return ours_relayed(to, via);
    case path_mode::any:
    case path_mode::adaptive: break;
  }
  return true;
}

asio::awaitable<bool> session_state::relay_due(punch_attempt& a, clock::time_point at) {
  auto self = shared_from_this();
  if (options.path_policy.mode == path_mode::adaptive) {
    punch::timer t(ex, time);
    t.expires_at(at);
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  } else if (co_await a.done.wait_until(at)) {
    co_return false;
  }
  co_return !closed;
}

namespace {

std::string percent(double share) {
  std::ostringstream s;
  s << static_cast<int>(share * 100.0 + 0.5) << "%";
  return s.str();
}

std::string seconds(std::chrono::milliseconds d) {
  std::ostringstream s;
  s << static_cast<double>(d.count()) / 1000.0 << " s";
  return s.str();
}

}  // namespace

// The controlling side decides (it nominates, as for an upgrade); the other side follows the
// nomination and only answers the probes. One probe per probe_interval on the direct pair,
// whichever path the connection uses: its loss is known before a move to the relay, and
// whether it is clean again while relayed.
asio::awaitable<void> session_state::adapt_path(std::weak_ptr<connection_state> weak) {
  auto self = shared_from_this();
  const auto& p = options.path_policy;
  punch::timer timer(ex, time);
  std::optional<remote_candidate> direct;  // the last direct pair the connection used
  auto last_switch = time.now();           // the connection's start counts as one
  std::optional<clock::time_point> clean_since;
  clock::time_point last_relay_check{};
  // A reading needs half a window's probes: the first few say little.
  const auto needed = std::max<std::size_t>(1, static_cast<std::size_t>(p.loss_window / p.probe_interval) / 2);
  for (;;) {
    auto c = weak.lock();
    if (closed || !c || !c->open) co_return;
    auto a = c->attempt;  // a re-introduction gives the connection another attempt
    const auto now = time.now();
    const bool relayed = c->path == path_kind::relay;
    if (!relayed) direct = remote_candidate{c->remote, c->path, c->via};
    if (!a->upgrading) {
      c->move_reason.clear();
      if (!relayed) c->held_on_relay = false;
    }
    if (direct) {
      loss_meter::challenge ch;
      randombytes_buf(ch.data(), ch.size());
      c->loss.sent(ch, now);
      ++stats.loss_probes_sent;
      co_await c->send_probe(wire::frame_kind::probe, direct->address, direct->via, ch);
    }
    stats.loss_probes_lost += c->loss.newly_lost(now, p.probe_timeout);
    // The relayed pairs: checked until one answers, then kept alive (the relay drops idle
    // allocations) while the direct pair is used.
    const auto check_gap = a->relay_pair ? options.connection_keepalive : std::chrono::milliseconds(1000);
    if (!relayed && now - last_relay_check >= check_gap) {
      last_relay_check = now;
      for (std::size_t i = 0; i < a->remotes.size(); ++i)
        if (a->remotes[i].kind == path_kind::relay) co_await send_check(*a, a->remotes[i], false);
    }
    const auto r = c->loss.read(now, p.loss_window, p.probe_timeout);
    const bool measured = r.counted >= needed;
    if (measured && r.loss() <= p.clean_below) {
      if (!clean_since) clean_since = now;
    } else {
      clean_since.reset();
    }
    std::optional<remote_candidate> to;
    if (now - last_switch >= p.min_dwell && !a->upgrading && c->attempt == a) {
      if (!relayed && measured && r.loss() > p.loss_above && a->relay_pair) {
        to = a->relay_pair;
        c->held_on_relay = true;  // no upgrade back until the direct pair is clean
        c->move_reason = "direct path lost " + percent(r.loss()) + " of " + std::to_string(r.counted) +
                         " probes over " + seconds(p.loss_window);
      } else if (relayed && c->held_on_relay && direct && clean_since && now - *clean_since >= p.clean_for) {
        to = direct;
        c->move_reason = "direct path clean (at most " + percent(p.clean_below) + " lost) for " +
                         seconds(std::chrono::duration_cast<std::chrono::milliseconds>(now - *clean_since));
      }
    }
    if (to) {
      last_switch = now;
      clean_since.reset();
      a->upgrading = true;
      a->nominated.reset();
      asio::co_spawn(ex, nominate(a, *to), asio::detached);
    }
    c.reset();
    a.reset();
    timer.expires_after(p.probe_interval);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace punch::detail
