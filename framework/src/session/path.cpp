// A connection's path: whether it still answers, probes when it goes quiet, and moving the
// path to another address only after the peer answered a probe from there
// (docs/nat-traversal.md, "When the network changes"; docs/protocol.md, "Path probes").
#include "session/connection_state.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace punch::detail {

namespace {
using challenge = std::array<std::byte, 8>;

challenge random_challenge() {
  challenge c;
  randombytes_buf(c.data(), c.size());
  return c;
}
}  // namespace

bool connection_state::path_quiet(clock::time_point now) const {
  const auto& o = session->options;
  const auto silent = now - path_heard;
  // Sending data (or probes) into silence, or the peer's keepalive overdue while idle.
  return path_suspect ||
         (silent >= o.path_probe_after && (last_data_sent > path_heard || silent >= keepalive_now(now) + o.path_probe_after));
}

void connection_state::heard(wire::frame_kind kind, std::span<const std::byte> payload, const endpoint& from,
                             std::size_t on) {
  const auto now = session->time.now();
  last_heard = now;
  if (!open) return;
  if (kind == wire::frame_kind::probe_ack) loss.answered(payload);  // path_mode::adaptive's probes
  // A path the policy forbids (the peer's own address under relay_only, a relay under
  // direct_only) gets no answer and is never validated: the frame's data still counts.
  if (!(from == remote && on == via)) {
    const remote_candidate* known = attempt->find(from, on);
    if (!session->allowed(from, on, known ? known->kind : path_kind::peer_reflexive)) return;
  }
  // A probe is answered on the path it came from, with its challenge: that is how the peer
  // validates a new path toward us.
  if (kind == wire::frame_kind::probe && payload.size() == 8) {
    challenge c;
    std::memcpy(c.data(), payload.data(), c.size());
    asio::co_spawn(session->ex, send_probe(wire::frame_kind::probe_ack, from, on, c), asio::detached);
  }
  if (from == remote && on == via) {
    path_heard = now;
    probes_unanswered = 0;
    path_suspect = false;
    path_lost = false;  // it came back by itself (an outage, not a move)
    return;
  }
  // From elsewhere: authentic, so the peer is there too, but a frame proves nothing about the
  // path back (a copy may have been sent on by someone else). The path moves only when ours
  // went quiet and the peer answers our probe, with its challenge, from that address.
  if (kind == wire::frame_kind::probe_ack && validating && validating->to.address == from && validating->to.via == on &&
      payload.size() == validating->challenge.size() &&
      std::memcmp(payload.data(), validating->challenge.data(), payload.size()) == 0) {
    const remote_candidate to = validating->to;
    validating.reset();
    if (path_lost || path_quiet(now)) move_path(to);
    return;
  }
  if (kind == wire::frame_kind::probe_ack) return;  // a late or stray answer
  // Only a path in trouble is left: while ours answers, frames from elsewhere are late ones
  // from a path just left (the relay, after an upgrade) or copies, and pull nothing.
  if (!path_lost && !path_quiet(now)) return;
  if (validating && validating->to.address == from && validating->to.via == on &&
      now - validating->sent < session->options.path_probe_gap)
    return;  // probed already
  const remote_candidate* known = attempt->find(from, on);
  remote_candidate to = known ? *known : remote_candidate{from, path_kind::peer_reflexive, on};
  validating = path_validation{to, random_challenge(), now};
  ++session->stats.path_validations;
  asio::co_spawn(session->ex, send_probe(wire::frame_kind::probe, from, on, validating->challenge), asio::detached);
}

void connection_state::move_path(const remote_candidate& to) {
  remote = to.address;
  path = to.kind;
  via = to.via;
  path_heard = session->time.now();
  probes_unanswered = 0;
  path_suspect = false;
  path_lost = false;
  our_reflexive = session->registration.reflexive;
  our_reflexive_other = session->registration.reflexive_other;
  if (!attempt->find(to.address, to.via) && attempt->remotes.size() < 16) attempt->remotes.push_back(to);
  ++session->stats.paths_changed;
  session->emit({.what = session_event::kind::path_changed, .peer = peer, .address = to.address, .path = to.kind,
                 .detail = std::exchange(move_reason, {})});
}

asio::awaitable<clock::time_point> connection_state::tend_path(clock::time_point now) {
  auto self = shared_from_this();
  const auto& o = session->options;
  if (!path_quiet(now)) {
    probes_unanswered = 0;
    // When it could turn quiet: path_probe_after if we send data by then (a send into a
    // quiet path wakes the ticker itself), or the idle rule's later deadline.
    const auto soon = path_heard + o.path_probe_after;
    co_return soon > now ? soon : path_heard + keepalive_now(now) + o.path_probe_after;
  }
  if (!path_lost && probes_unanswered >= o.path_probes && now - last_probe >= o.path_probe_gap) {
    path_lost = true;
    lost_at = now;
    next_resume = now;
    ++session->stats.paths_lost;
    session->emit({.what = session_event::kind::path_lost, .peer = peer, .address = remote, .path = path});
  }
  // Once lost, the old path is still probed (slowly): an outage that ends brings it back.
  const auto gap = path_lost ? 4 * o.path_probe_gap : o.path_probe_gap;
  if (now - last_probe >= gap) {
    last_probe = now;
    ++probes_unanswered;
    co_await send_probe(wire::frame_kind::probe, remote, via, random_challenge());
  }
  if (path_lost && !recovering && now >= next_resume) {
    recovering = true;
    asio::co_spawn(session->ex, session->recover(weak_from_this()), asio::detached);
  }
  auto wake = last_probe + gap;
  if (path_lost && !recovering) wake = std::min(wake, next_resume);
  co_return wake;
}

asio::awaitable<void> connection_state::send_probe(wire::frame_kind kind, endpoint to, std::size_t on,
                                                   std::array<std::byte, 8> challenge) {
  auto self = shared_from_this();
  std::array<std::byte, wire::frame_overhead + 8> frame;
  const auto sealed = seal(kind, challenge, frame);
  co_await session->socket_of(*attempt, on).async_send_to(asio::buffer(sealed.data(), sealed.size()), to,
                                                          asio::as_tuple(asio::use_awaitable));
  if (to == remote && on == via) last_sent = last_data_sent = session->time.now();
}

}  // namespace punch::detail
