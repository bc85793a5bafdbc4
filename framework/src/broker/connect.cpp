// The broker's Connect: answer the requester with the target's candidates and, at the same
// moment, send the target an Introduce with the requester's candidates, both carrying one
// fresh token. Introduce is retransmitted until the target acknowledges it; retransmitted
// Connects are answered from a small cache so that each Connect introduces once.
#include "broker/broker_state.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sodium.h>

#include <algorithm>
#include <exception>

namespace punch {

using namespace detail;

std::span<const std::byte> broker::impl::on_connect(const request& r) {
  ++stats.connects;
  // A retransmission (same transaction, same source) gets the first answer again.
  if (auto it = connect_index.find(r.msg.id()); it != connect_index.end()) {
    const auto& c = connects[it->second];
    if (c.from == r.from && r.now - c.at < connect_cache_ttl) {
      // Copied: the record may be reused while this answer waits for its send.
      std::copy(c.answer.begin(), c.answer.end(), out.begin());
      return out.first(c.answer.size());
    }
  }

  auto p = r.msg.find(wire::attr::peer_id);
  if (!p) return error(r, wire::error::bad_request, "missing PEER-ID");
  const std::string_view requester = stun::decode_string(*p);
  if (auto why = id_problem(requester, false); !why.empty()) return error(r, wire::error::bad_request, why);
  auto t = r.msg.find(wire::attr::target_id);
  if (!t) return error(r, wire::error::bad_request, "missing TARGET-ID");
  const std::string_view target = stun::decode_string(*t);
  if (auto why = id_problem(target, true); !why.empty()) return error(r, wire::error::bad_request, why);
  if (target == requester) return error(r, wire::error::bad_request, "TARGET-ID is PEER-ID");
  // A re-introduction of a live connection after one side moved: passed on to the target,
  // which then punches for that connection instead of a new one (docs/protocol.md, "Connect").
  auto resume = r.msg.find(wire::attr::resume);
  if (resume && resume->value.size() != wire::resume_size) return error(r, wire::error::bad_request, "bad RESUME");

  // Only the registered endpoint may speak for an id: the target will punch toward it.
  registration_record& me = found_a;
  registration_record& peer = found_b;
  if (!reg.find(requester, r.now, me)) return error(r, wire::error::forbidden, "PEER-ID not registered");
  if (me.reflexive != r.source && me.reflexive_alt != r.source)
    return error(r, wire::error::forbidden, "PEER-ID registered elsewhere");
  if (!reg.find(target, r.now, peer)) {
    // Held by another broker of the cluster, maybe: the answer waits for the cluster's.
    if (link) return cluster_connect(r, me, target, resume ? resume->value : std::span<const std::byte>{});
    return error(r, wire::error::not_found, "TARGET-ID not registered");
  }
  if (introductions.size() >= options.max_pending_introductions)
    return error(r, wire::error::rate_limited, "too many introductions");

  wire::token token;
  randombytes_buf(token.data(), token.size());

  // The answer first: if it does not fit the request's budget, nobody is introduced.
  stun::builder b(out, stun::message_class::success_response, wire::method::connect, r.msg.id());
  add_connect_answer(b, r, peer, token);
  if (!fits(r, b)) return finish(r, b);
  const auto answer = b.finish_with_fingerprint();

  stun::transaction_id intro_id;
  std::vector<std::byte> bytes;
  if (!make_introduce(bytes, intro_id, me, token, resume ? resume->value : std::span<const std::byte>{}))
    return error(r, wire::error::server_error, "introduce does not fit");
  start_introduction(intro_id, peer,
                     {.what = broker_event::kind::introduced, .id = std::string(me.id()),
                      .target = std::string(peer.id()), .address = me.reflexive, .token = token},
                     std::move(bytes));
  remember_connect(r, answer);
  return answer;
}

void broker::impl::add_connect_answer(stun::builder& b, const request& r, const registration_record& peer,
                                      const wire::token& token) {
  add_candidates(b, peer);
  b.add(wire::attr::token, token);
  b.add_xor_address(stun::attr::xor_mapped_address, r.source);
}

bool broker::impl::make_introduce(std::vector<std::byte>& bytes, stun::transaction_id& id,
                                  const registration_record& me, const wire::token& token,
                                  std::span<const std::byte> resume) {
  randombytes_buf(id.data(), id.size());
  std::array<std::byte, stun::max_message_size> buf;
  stun::builder intro(buf, stun::message_class::request, wire::method::introduce, id);
  add_candidates(intro, me);
  intro.add(wire::attr::token, token);
  if (!resume.empty()) intro.add(wire::attr::resume, resume);
  const auto done = intro.finish_with_fingerprint();
  bytes.assign(done.begin(), done.end());
  return !done.empty();
}

void broker::impl::start_introduction(const stun::transaction_id& id, const registration_record& target,
                                      broker_event event, std::vector<std::byte> request) {
  auto in = std::make_shared<introduction>(socket.get_executor(), time());
  in->id = id;
  in->to = socket_form(reachable(target));
  // An address that a first-datagram Register claimed, not yet proven, may be a victim's: one
  // copy per Connect, as many bytes as the Connect that asked (docs/security.md).
  in->unproven = !target.address_proven;
  if (in->unproven) ++stats.introductions_unproven;
  in->event = std::move(event);
  in->request = std::move(request);
  introductions.emplace(in->id, in);
  ++stats.introductions;
  asio::co_spawn(socket.get_executor(), run_introduction(in), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
}

void broker::impl::remember_connect(const request& r, std::span<const std::byte> answer) {
  if (connects.empty()) return;  // a cache of size 0: every retransmission introduces again
  auto& record = connects[next_connect];
  if (auto old = connect_index.find(record.id); !record.answer.empty() && old != connect_index.end() && old->second == next_connect)
    connect_index.erase(old);
  connect_index[r.msg.id()] = next_connect;
  next_connect = (next_connect + 1) % connects.size();
  record.id = r.msg.id();
  record.from = r.from;
  record.at = r.now;
  record.answer.assign(answer.begin(), answer.end());
}

// Sends the Introduce at 0, rto, 3·rto, 7·rto, … (the wait doubles), at most
// introduce_attempts times, then waits once more before giving up. To an unproven target the
// first copy only, and the later ones once the peer's refresh has proven its address (it
// registered on a TIMESTAMP a moment ago, and its refresh is on its way).
asio::awaitable<void> broker::impl::run_introduction(std::shared_ptr<introduction> in) {
  auto rto = options.introduce_rto;
  for (int attempt = 1;; ++attempt) {
    // Once stopped, `this` may be gone: look only at `in`.
    if (in->stopped || in->acked || in->rejected) co_return;
    if (attempt == 1 || !in->unproven || proven(in->event.target, in->to, in->unproven))
      co_await socket.async_send_to(asio::buffer(in->request), in->to, asio::as_tuple(asio::use_awaitable));
    if (in->stopped || in->acked || in->rejected) co_return;
    in->timer.expires_after(rto);
    co_await in->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (in->stopped || in->acked || in->rejected) co_return;
    if (attempt >= options.introduce_attempts) break;
    rto *= 2;
  }
  ++stats.introductions_failed;
  introductions.erase(in->id);
  in->event.what = broker_event::kind::introduce_failed;
  emit(in->event);
}

void broker::impl::on_introduce_answer(const stun::message& m, const endpoint& src, bool forwarded) {
  auto it = introductions.find(m.id());
  if (it == introductions.end()) {
    // Maybe a sibling's Introduce, answered to the socket the target's address hashes to.
    if (!forwarded) forward_introduce_answer(m, src);
    return;
  }
  // Not from the target.
  if (src != it->second->to) return;
  auto in = it->second;
  introductions.erase(it);
  in->timer.cancel();
  if (m.cls() == stun::message_class::success_response) {
    in->acked = true;
    ++stats.introductions_acked;
  } else {
    in->rejected = true;
    ++stats.introductions_failed;
    in->event.what = broker_event::kind::introduce_failed;
  }
  emit(in->event);
}

void broker::impl::forward_introduce_answer(const stun::message& m, const endpoint& src) {
  if (siblings.empty()) return;
  // Copied once for all siblings: the message view points into this loop's buffer.
  auto bytes = std::make_shared<const std::vector<std::byte>>(m.bytes().begin(), m.bytes().end());
  for (broker* s : siblings) {
    impl* other = s->impl_.get();
    asio::post(other->socket.get_executor(), [other, bytes, src] {
      error_code ec;
      if (auto msg = stun::message::parse(*bytes, ec)) other->on_introduce_answer(*msg, src, true);
    });
  }
}

void broker::impl::stop_introductions() {
  for (auto& [id, in] : introductions) {
    in->stopped = true;
    in->timer.cancel();
  }
  introductions.clear();
}

// Whether `target`, introduced at `to`, has proven that address since; clears `unproven` if so.
bool broker::impl::proven(std::string_view target, const endpoint& to, bool& unproven) {
  registration_record now_held;  // not found_b: this runs between datagrams, from a timer
  if (reg.find(target, now(), now_held) && now_held.address_proven && socket_form(reachable(now_held)) == to)
    unproven = false;
  return !unproven;
}

}  // namespace punch
