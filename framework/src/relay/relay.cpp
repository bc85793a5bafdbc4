// The relay service (docs/relay.md): ALLOCATE with a stateless NONCE cookie, pairing of two
// sources by RELAY-ID, forwarding between them with a token bucket per side, idle expiry.
// The NONCE and the per-address ALLOCATE rate limit are the broker's, reused as they are.
#include "punch/relay.hpp"

#include "server/nonce.hpp"
#include "server/rate_limit.hpp"

#include "punch/wire/protocol.hpp"
#include "punch/wire/stun.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sodium.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace punch {
namespace {

using clock = std::chrono::steady_clock;

// Error reasons are short, as the broker's (an answer never outgrows its request).
constexpr std::size_t max_reason_size = 28;
// Every answer fits answer_bound::allocate, the size sessions pad ALLOCATE to; smaller ones
// get "400 pad request to N bytes" (if even that fits) and nothing else, so that no answer is
// larger than its request (docs/relay.md). The largest answer: success to an IPv6 source.
constexpr std::size_t largest_answer =
    stun::header_size + wire::answer_bound::address + 8 + (4 + wire::nonce_size) + stun::fingerprint_size;
static_assert(largest_answer <= wire::answer_bound::allocate);

// RFC 8489 §5: the type interleaves the class bits C1 (bit 8) and C0 (bit 4) with the method.
constexpr std::uint16_t type_of(std::uint16_t method, stun::message_class c) {
  const auto cls = static_cast<std::uint16_t>(c);
  return static_cast<std::uint16_t>((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) |
                                    ((cls & 0x1) << 4) | ((cls & 0x2) << 7));
}
constexpr std::uint16_t allocate_request = type_of(wire::method::allocate, stun::message_class::request);

bool is_allocate_request(std::span<const std::byte> d) {
  return stun::looks_like_stun(d) &&
         ((std::to_integer<std::uint16_t>(d[0]) << 8) | std::to_integer<std::uint16_t>(d[1])) == allocate_request;
}

// Receive errors that concern one earlier datagram, not the socket.
bool transient(const error_code& ec) {
  return ec == asio::error::connection_refused || ec == asio::error::connection_reset ||
         ec == asio::error::message_size || ec == asio::error::network_unreachable ||
         ec == asio::error::host_unreachable;
}

relay_secret random_secret() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  relay_secret s;
  randombytes_buf(s.data(), s.size());
  return s;
}

// One side of an allocation: where it sends from, and its token bucket.
struct side {
  endpoint address;  // as the socket reports it: forwards go there unchanged
  double tokens = 0;
  std::int64_t last = 0;  // ns of the relay's clock at the last refill
  clock::time_point heard{};  // its last datagram or ALLOCATE
};

struct allocation {
  relay_id id{};
  std::array<side, 2> sides;
  std::size_t count = 0;  // 1: waiting for the other side; 2: a pair
  clock::time_point expires{};
};

std::int64_t ns_of(clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

struct relay::impl {
  impl(datagram_socket& s, relay_options o)
      : socket(s),
        options(std::move(o)),
        nonces(options.nonce_secret ? *options.nonce_secret : random_secret()),
        limiter(options.allocate_rate_limit, options.allocate_rate_burst, options.allocate_rate_table) {}

  // What every answer needs to know about its ALLOCATE.
  struct request {
    const stun::message& msg;
    endpoint source;     // unmapped
    std::size_t budget;  // the request's size: no answer is larger
    clock::time_point now;
  };

  clock::time_point now() const { return options.clock ? options.clock() : clock::now(); }
  relay_action handle(std::span<const std::byte> d, const endpoint& from, clock::time_point now);
  relay_action on_allocate(std::span<const std::byte> d, const endpoint& from, clock::time_point now);
  relay_action allocate(const request& r, const endpoint& from, const relay_id& id);
  relay_action answer(const request& r, stun::builder& b);
  relay_action error(const request& r, int code, std::string_view reason);
  relay_action challenge(const request& r, int code, std::string_view reason);
  relay_action unknown_attributes(const request& r);
  relay_action pad_error(const request& r);
  bool admit(side& s, clock::time_point now);
  // The live allocation `from` is a side of (an expired one is dropped on the way).
  allocation* by_source_live(const endpoint& from, clock::time_point now);
  void drop(allocation& a, bool expired_event);
  std::size_t expire(clock::time_point now);
  relay_event event_of(relay_event::kind k, const allocation& a) const {
    return {.what = k, .id = a.id, .a = unmapped(a.sides[0].address),
            .b = a.count > 1 ? unmapped(a.sides[1].address) : endpoint{}};
  }
  void emit(const relay_event& e) {
    if (on_event) on_event(e);
  }

  // Datagrams per receive (the broker's rule: see broker_impl.hpp). Forwarded datagrams go
  // out from in[i], answers from out[i].
  static constexpr std::size_t batch = 64;
  struct loop_buffers {
    std::array<std::array<std::byte, receive_buffer_size>, batch> in{};
    std::array<std::array<std::byte, stun::max_message_size>, batch> out{};
    std::array<received_datagram, batch> received{};
    std::array<outgoing_datagram, batch> sends{};
  };
  static constexpr std::size_t receive_loops = 2;
  asio::awaitable<void> receive_loop(loop_buffers& b);
  asio::awaitable<void> receive_loops_from(std::size_t first, std::size_t count);
  asio::awaitable<void> expiry_loop();

  datagram_socket& socket;
  relay_options options;
  relay_stats stats;
  detail::nonce_issuer nonces;
  detail::rate_limiter limiter;
  std::function<void(const relay_event&)> on_event;
  std::span<std::byte> out;  // the answer buffer of the datagram being handled
  // Both bounded by max_allocations (by_source: two entries per allocation at most); nodes
  // are made only when an allocation or a side is added, never per forwarded datagram.
  std::map<relay_id, allocation> allocations;
  std::map<endpoint, allocation*> by_source;
  std::vector<relay_event> expired;  // collected by a sweep, emitted after it
  std::array<loop_buffers, receive_loops> loops{};
  std::string local;
};

relay_action relay::impl::handle(std::span<const std::byte> d, const endpoint& from, clock::time_point now) {
  ++stats.received;
  if (is_allocate_request(d)) return on_allocate(d, from, now);
  // Everything else goes from one side of a pair to the other, unchanged, or nowhere.
  allocation* a = by_source_live(from, now);
  if (!a) {
    ++stats.dropped_unknown;
    return {};
  }
  const std::size_t me = a->sides[0].address == from ? 0 : 1;
  a->sides[me].heard = now;
  if (a->count < 2) {
    ++stats.dropped_unpaired;
    return {};
  }
  if (!admit(a->sides[me], now)) {
    ++stats.rate_limited;
    return {};
  }
  a->expires = now + options.lifetime;
  ++stats.forwarded;
  stats.forwarded_bytes += d.size();
  return {relay_action::kind::forward, d, a->sides[1 - me].address};
}

relay_action relay::impl::on_allocate(std::span<const std::byte> d, const endpoint& from, clock::time_point now) {
  const endpoint source = unmapped(from);
  // Before parsing: a flood of ALLOCATEs from one address costs a hash and a bucket.
  if (!limiter.admit(source.address(), now)) {
    ++stats.allocate_rate_limited;
    return {};
  }
  error_code ec;
  auto m = stun::message::parse(d, ec);
  if (!m) {
    ++stats.unanswered;
    return {};
  }
  const request r{*m, source, d.size(), now};
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
  if (!nonces.valid(nonce->value, source, now, options.nonce_lifetime))
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
    a.sides[0] = {from, static_cast<double>(options.rate_burst), ns_of(r.now), r.now};
    a.count = 1;
    a.expires = r.now + options.lifetime;
    by_source.emplace(from, &a);
    ++stats.allocations;
    emit(event_of(relay_event::kind::allocated, a));
  } else if (mine) {
    mine->expires = r.now + options.lifetime;
    mine->sides[mine->sides[0].address == from ? 0 : 1].heard = r.now;
    ++stats.refreshes;
  } else if (it->second.count == 1) {
    allocation& a = it->second;
    a.sides[1] = {from, static_cast<double>(options.rate_burst), ns_of(r.now), r.now};
    a.count = 2;
    a.expires = r.now + options.lifetime;
    by_source.emplace(from, &a);
    ++stats.pairs;
    emit(event_of(relay_event::kind::paired, a));
  } else {
    // A pair whose side has gone quiet, asked for from a new source that knows its RELAY-ID
    // (the peers and their broker do): that peer's address changed, and it takes its place
    // (docs/relay.md). A pair whose two sides are both talking stays full.
    allocation& a = it->second;
    side& quiet = a.sides[0].heard <= a.sides[1].heard ? a.sides[0] : a.sides[1];
    if (r.now - quiet.heard < options.takeover_after) return error(r, wire::error::forbidden, "allocation full");
    by_source.erase(quiet.address);
    if (on_event) emit({.what = relay_event::kind::taken_over, .id = a.id, .a = unmapped(quiet.address), .b = unmapped(from)});
    quiet = {from, static_cast<double>(options.rate_burst), ns_of(r.now), r.now};
    by_source.emplace(from, &a);
    a.expires = r.now + options.lifetime;
    ++stats.takeovers;
  }
  stun::builder b(out, stun::message_class::success_response, wire::method::allocate, r.msg.id());
  b.add_xor_address(stun::attr::xor_mapped_address, r.source);
  b.add_u32(wire::attr::lifetime, static_cast<std::uint32_t>(options.lifetime.count()));
  // For the next refresh, which then needs no challenge.
  b.add(wire::attr::nonce, nonces.issue(r.source, r.now));
  return answer(r, b);
}

bool relay::impl::admit(side& s, clock::time_point now) {
  if (options.rate_limit == 0 || options.rate_burst == 0) return true;
  const std::int64_t t = ns_of(now);
  // A clock that went back (an injected one) refills nothing.
  const double elapsed = static_cast<double>(std::max<std::int64_t>(t - s.last, 0));
  s.tokens = std::min(static_cast<double>(options.rate_burst), s.tokens + elapsed * 1e-9 * options.rate_limit);
  s.last = std::max(s.last, t);
  if (s.tokens < 1.0) return false;
  s.tokens -= 1.0;
  return true;
}

allocation* relay::impl::by_source_live(const endpoint& from, clock::time_point now) {
  auto it = by_source.find(from);
  if (it == by_source.end()) return nullptr;
  if (it->second->expires > now) return it->second;
  drop(*it->second, true);
  return nullptr;
}

void relay::impl::drop(allocation& a, bool expired_event) {
  if (expired_event) {
    ++stats.expired;
    if (on_event) emit(event_of(relay_event::kind::expired, a));
  }
  for (std::size_t i = 0; i < a.count; ++i) by_source.erase(a.sides[i].address);
  const relay_id id = a.id;  // `a` is the node being erased
  allocations.erase(id);
}

std::size_t relay::impl::expire(clock::time_point now) {
  // Collected first: an event handler must not run while the table is walked.
  expired.clear();
  std::size_t n = 0;
  for (auto it = allocations.begin(); it != allocations.end();) {
    allocation& a = it->second;
    if (a.expires > now) {
      ++it;
      continue;
    }
    if (on_event) expired.push_back(event_of(relay_event::kind::expired, a));
    for (std::size_t i = 0; i < a.count; ++i) by_source.erase(a.sides[i].address);
    it = allocations.erase(it);
    ++stats.expired;
    ++n;
  }
  for (const auto& e : expired) emit(e);
  return n;
}

relay_action relay::impl::answer(const request& r, stun::builder& b) {
  auto bytes = b.finish_with_fingerprint();
  // Amplification ≤ 1: an answer that would outgrow its request is not sent.
  if (b.error() || bytes.size() > r.budget) {
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
  stun::builder b(out, stun::message_class::error_response, wire::method::allocate, r.msg.id());
  b.add_error_code(code, reason.substr(0, max_reason_size));
  return answer(r, b);
}

relay_action relay::impl::pad_error(const request& r) {
  // Written in place: a stream of small requests must not allocate.
  constexpr std::string_view head = "pad request to ", tail = " bytes";
  std::array<char, max_reason_size> text{};
  auto at = std::copy(head.begin(), head.end(), text.begin());
  at = std::to_chars(at, text.end() - tail.size(), wire::answer_bound::allocate).ptr;
  at = std::copy(tail.begin(), tail.end(), at);
  return error(r, wire::error::bad_request, std::string_view(text.data(), static_cast<std::size_t>(at - text.begin())));
}

relay_action relay::impl::challenge(const request& r, int code, std::string_view reason) {
  ++stats.challenges;
  stun::builder b(out, stun::message_class::error_response, wire::method::allocate, r.msg.id());
  b.add_error_code(code, reason);
  b.add(wire::attr::nonce, nonces.issue(r.source, r.now));
  return answer(r, b);
}

relay_action relay::impl::unknown_attributes(const request& r) {
  // RFC 8489 §14.9: list what we do not understand, as many as the request's size allows.
  constexpr std::size_t max_listed = 8;
  std::array<std::byte, 2 * max_listed> listed{};
  std::size_t n = 0;
  for (const stun::attribute a : r.msg) {
    const bool understood = a.type == wire::attr::relay_id || a.type == wire::attr::nonce ||
                            a.type == wire::attr::padding || !stun::attr::comprehension_required(a.type);
    if (understood || n == max_listed) continue;
    listed[2 * n] = std::byte(a.type >> 8);
    listed[2 * n + 1] = std::byte(a.type & 0xFF);
    ++n;
  }
  if (n == 0) return {};
  ++stats.bad_requests;
  stun::builder b(out, stun::message_class::error_response, wire::method::allocate, r.msg.id());
  b.add_error_code(wire::error::unknown_attribute, "unknown attribute");
  b.add(stun::attr::unknown_attributes, std::span<const std::byte>(listed).first(2 * n));
  return answer(r, b);
}

asio::awaitable<void> relay::impl::receive_loop(loop_buffers& b) {
  co_await asio::this_coro::throw_if_cancelled(false);
  for (std::size_t i = 0; i < batch; ++i) b.received[i].buffer = asio::buffer(b.in[i]);
  for (;;) {
    auto [ec, n] = co_await socket.async_receive_batch(b.received, asio::as_tuple(asio::use_awaitable));
    if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted || ec == errc::socket_closed || !socket.is_open()) co_return;
      if (transient(ec)) continue;
      std::ostringstream what;
      what << "relay on " << local << ": receive failed";
      throw system_error(ec, what.str());
    }
    const auto t = now();
    std::size_t sends = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const received_datagram& d = b.received[i];
      // A full buffer may hold a truncated datagram: forwarding it would change it.
      if (d.size >= b.in[i].size()) {
        ++stats.received;
        ++stats.oversized;
        continue;
      }
      out = b.out[sends];
      const relay_action act = handle(std::span<const std::byte>(b.in[i]).first(d.size), d.from, t);
      if (act.what == relay_action::kind::none) continue;
      b.sends[sends++] = {asio::buffer(act.bytes.data(), act.bytes.size()), act.to};
    }
    if (sends == 0) continue;
    // A datagram the network refuses is that one peer's loss (unreachable, filtered).
    auto [sec, sent] = co_await socket.async_send_batch(std::span<const outgoing_datagram>(b.sends).first(sends),
                                                        asio::as_tuple(asio::use_awaitable));
    if (sec == asio::error::operation_aborted || !socket.is_open()) co_return;
  }
}

asio::awaitable<void> relay::impl::receive_loops_from(std::size_t first, std::size_t count) {
  using namespace asio::experimental::awaitable_operators;
  if (count == 1) return receive_loop(loops[first]);
  return receive_loops_from(first, count / 2) && receive_loops_from(first + count / 2, count - count / 2);
}

asio::awaitable<void> relay::impl::expiry_loop() {
  co_await asio::this_coro::throw_if_cancelled(false);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    timer.expires_after(options.expiry_interval);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec || (co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none)
      co_return;
    expire(now());
  }
}

// ---- the public class ----

relay::relay(datagram_socket& socket, relay_options options)
    : impl_(std::make_unique<impl>(socket, std::move(options))) {}

relay::~relay() = default;

asio::awaitable<void> relay::run() {
  using namespace asio::experimental::awaitable_operators;
  std::ostringstream local;
  local << impl_->socket.local_endpoint();
  impl_->local = local.str();
  co_await (impl_->receive_loops_from(0, impl::receive_loops) || impl_->expiry_loop());
}

relay_action relay::handle(std::span<const std::byte> datagram, const endpoint& from, std::span<std::byte> answer) {
  impl_->out = answer;
  return impl_->handle(datagram, from, impl_->now());
}

std::size_t relay::expire() { return impl_->expire(impl_->now()); }

std::size_t relay::allocations() const noexcept { return impl_->allocations.size(); }

void relay::on_event(std::function<void(const relay_event&)> handler) { impl_->on_event = std::move(handler); }

const relay_stats& relay::stats() const noexcept { return impl_->stats; }

endpoint relay::local_endpoint() const { return impl_->socket.local_endpoint(); }

}  // namespace punch
