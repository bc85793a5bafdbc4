// The relay's answers to ALLOCATE (docs/relay.md): a stateless NONCE cookie first, then an
// allocation made, paired, refreshed or taken over; every answer no larger than its request.
#include "relay/relay_state.hpp"

#include "server/error_answer.hpp"
#include "server/intake.hpp"

#include <algorithm>

namespace punch {

using namespace detail;

namespace {

// Every answer fits answer_bound::allocate, the size sessions pad ALLOCATE to; smaller ones
// get "400 pad request to N bytes" (if even that fits) and nothing else, so that no answer is
// larger than its request (docs/relay.md). The largest answer: success to an IPv6 source.
constexpr std::size_t largest_answer =
    stun::header_size + wire::answer_bound::address + 8 + (4 + wire::nonce_size) + stun::fingerprint_size;
static_assert(largest_answer <= wire::answer_bound::allocate);

bool understood(const stun::attribute& a) {
  return a.type == wire::attr::relay_id || a.type == wire::attr::nonce || a.type == wire::attr::padding ||
         !stun::attr::comprehension_required(a.type);
}

}  // namespace

relay_action relay::impl::on_allocate(std::span<const std::byte> d, const endpoint& from, clock::time_point now) {
  const intake in = take_in(limiter, from, now, d, stats.allocate_rate_limited);
  if (in.rate_limited) return {};
  const auto& m = in.msg;
  if (!m) {
    ++stats.unanswered;
    return {};
  }
  const request r{*m, in.source, d.size(), now};
  if (d.size() < wire::answer_bound::allocate) return pad_error(r);
  if (auto a = unknown_attributes(r); a.what != relay_action::kind::none) return a;
  auto id_attr = m->find(wire::attr::relay_id);
  if (!id_attr) return error(r, wire::error::bad_request, "missing RELAY-ID");
  relay_id id;
  if (id_attr->value.size() != id.size()) return error(r, wire::error::bad_request, "bad RELAY-ID");
  std::copy(id_attr->value.begin(), id_attr->value.end(), id.begin());
  // Return routability before any state: a spoofed source never sees its NONCE.
  auto nonce = m->find(wire::attr::nonce);
  if (!nonce) return challenge(r, wire::error::unauthenticated, "unauthenticated");
  if (!nonces.valid(nonce->value, in.source, now, options.nonce_lifetime))
    return challenge(r, wire::error::stale_nonce, "stale nonce");
  return allocate(r, from, id);
}

relay_action relay::impl::allocate(const request& r, const endpoint& from, const relay_id& id) {
  allocation* mine = by_source_live(from, r.now);
  auto it = allocations.find(id);
  if (it != allocations.end() && it->second.expires <= r.now) {
    drop(it->second, true);
    it = allocations.end();
  }
  if (mine && (it == allocations.end() || mine != &it->second))
    return error(r, wire::error::forbidden, "in another allocation");
  if (it == allocations.end()) {
    if (allocations.size() >= options.max_allocations)
      return error(r, wire::error::insufficient_capacity, "relay full");
    allocation& a = allocations[id];
    a.id = id;
    add_side(a, from, r.now);
    ++stats.allocations;
    emit(event_of(relay_event::kind::allocated, a));
  } else if (mine) {
    mine->expires = r.now + options.lifetime;
    mine->sides[same_source(mine->sides[0].address, from) ? 0 : 1].heard = r.now;
    ++stats.refreshes;
  } else if (it->second.count == 1) {
    allocation& a = it->second;
    add_side(a, from, r.now);
    ++stats.pairs;
    emit(event_of(relay_event::kind::paired, a));
  } else {
    // A pair whose side has gone quiet, asked for from a new source that knows its RELAY-ID
    // (the peers and their broker do): that peer's address changed, and it takes its place
    // (docs/relay.md). A pair whose two sides are both talking stays full.
    allocation& a = it->second;
    detail::relay_side& quiet = a.sides[0].heard <= a.sides[1].heard ? a.sides[0] : a.sides[1];
    if (r.now - quiet.heard < options.takeover_after) return error(r, wire::error::forbidden, "allocation full");
    by_source.erase(quiet.address);
    if (on_event) emit({.what = relay_event::kind::taken_over, .id = a.id, .a = unmapped(quiet.address), .b = unmapped(from)});
    quiet = new_side(from, r.now);
    by_source.emplace(from, &a);
    a.expires = r.now + options.lifetime;
    ++stats.takeovers;
  }
  stun::builder b(out, stun::message_class::success_response, wire::method::allocate, r.msg.id());
  b.add_xor_address(stun::attr::xor_mapped_address, r.source);
  b.add_u32(wire::attr::lifetime, static_cast<std::uint32_t>(options.lifetime.count()));
  // For the next refresh, which then needs no challenge.
  b.add(wire::attr::nonce, nonces.issue(r.source, r.now));
  return answer(r, b.finish_with_fingerprint());
}

relay_action relay::impl::answer(const request& r, std::span<const std::byte> bytes) {
  // Amplification ≤ 1: an answer that would outgrow its request is not sent.
  if (bytes.empty() || bytes.size() > r.budget) {
    ++stats.unanswered;
    return {};
  }
  return {relay_action::kind::answer, bytes, r.source};
}

relay_action relay::impl::error(const request& r, int code, std::string_view reason) {
  if (code == wire::error::bad_request || code == wire::error::unknown_attribute)
    ++stats.bad_requests;
  else
    ++stats.rejected;
  return answer(r, error_answer(out, r.msg, code, reason, true));
}

relay_action relay::impl::pad_error(const request& r) {
  reason_text text;
  return error(r, wire::error::bad_request, pad_reason(text, wire::answer_bound::allocate));
}

relay_action relay::impl::challenge(const request& r, int code, std::string_view reason) {
  ++stats.challenges;
  stun::builder b(out, stun::message_class::error_response, wire::method::allocate, r.msg.id());
  b.add_error_code(code, reason);
  b.add(wire::attr::nonce, nonces.issue(r.source, r.now));
  return answer(r, b.finish_with_fingerprint());
}

relay_action relay::impl::unknown_attributes(const request& r) {
  // RFC 8489 §14.9: list what we do not understand, as many as the request's size allows.
  auto bytes = unknown_attributes_answer(out, r.msg, understood, 8, r.budget, true);
  if (bytes.empty()) return {};
  ++stats.bad_requests;
  return answer(r, bytes);
}

}  // namespace punch
