// The relay service (docs/relay.md): the pairs of sources it forwards between, unchanged, with
// a token bucket per side, and their idle expiry. ALLOCATE is answered in allocate.cpp; the
// serve loop, the NONCE and the per-address ALLOCATE rate limit are the server module's.
#include "relay/relay_state.hpp"

#include "server/secret.hpp"

#include <algorithm>

namespace punch {

using namespace detail;

namespace {

// ALLOCATE requests are told apart from forwarded datagrams by their first bytes.
constexpr std::uint16_t allocate_request = stun::message_type(stun::message_class::request, wire::method::allocate);

bool is_allocate_request(std::span<const std::byte> d) {
  return stun::looks_like_stun(d) &&
         ((std::to_integer<std::uint16_t>(d[0]) << 8) | std::to_integer<std::uint16_t>(d[1])) == allocate_request;
}

}  // namespace

relay::impl::impl(datagram_socket& s, relay_options o)
    : socket(s),
      options(std::move(o)),
      nonces(options.nonce_secret ? *options.nonce_secret : random_secret()),
      limiter(options.allocate_rate_limit, options.allocate_rate_burst, options.allocate_rate_table),
      server(s, *this, {.name = "relay", .receive_size = relay::receive_buffer_size, .drop_full_datagrams = true,
                        .expiry_interval = options.expiry_interval}) {}

reply relay::impl::handle(std::span<const std::byte> datagram, const endpoint& from, clock::time_point now,
                          std::span<std::byte> answer) {
  out = answer;
  const relay_action act = decide(datagram, from, now);
  if (act.what == relay_action::kind::none) return {};
  return {act.bytes, act.to};
}

relay_action relay::impl::decide(std::span<const std::byte> d, const endpoint& from, clock::time_point now) {
  ++stats.received;
  if (is_allocate_request(d)) return on_allocate(d, from, now);
  // Everything else goes from one side of a pair to the other, unchanged, or nowhere.
  allocation* a = by_source_live(from, now);
  if (!a) {
    ++stats.dropped_unknown;
    return {};
  }
  const std::size_t me = same_source(a->sides[0].address, from) ? 0 : 1;
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


relay_side relay::impl::new_side(const endpoint& from, clock::time_point now) const {
  return {from, full_bucket(static_cast<double>(options.rate_burst), now), now};
}

void relay::impl::add_side(allocation& a, const endpoint& from, clock::time_point now) {
  a.sides[a.count++] = new_side(from, now);
  a.expires = now + options.lifetime;
  by_source.emplace(from, &a);
}

bool relay::impl::admit(relay_side& s, clock::time_point now) {
  if (options.rate_limit == 0 || options.rate_burst == 0) return true;
  return s.bucket.take(now, static_cast<double>(options.rate_limit) * 1e-9, static_cast<double>(options.rate_burst));
}

relay::impl::allocation* relay::impl::by_source_live(const endpoint& from, clock::time_point now) {
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

std::size_t relay::impl::sweep(clock::time_point now) {
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


// ---- the public class ----

relay::relay(datagram_socket& socket, relay_options options)
    : impl_(std::make_unique<impl>(socket, std::move(options))) {}

relay::~relay() = default;

asio::awaitable<void> relay::run() {
  co_await impl_->server.run();
}

relay_action relay::handle(std::span<const std::byte> datagram, const endpoint& from, std::span<std::byte> answer) {
  impl_->out = answer;
  return impl_->decide(datagram, from, impl_->now());
}

std::size_t relay::expire() { return impl_->sweep(impl_->now()); }

std::size_t relay::allocations() const noexcept { return impl_->allocations.size(); }

void relay::on_event(std::function<void(const relay_event&)> handler) { impl_->on_event = std::move(handler); }

const relay_stats& relay::stats() const noexcept { return impl_->stats; }

endpoint relay::local_endpoint() const { return impl_->socket.local_endpoint(); }

}  // namespace punch
