// The relay's private state (private header; docs/relay.md): its allocations, each a pair of
// sides with a token bucket, indexed by RELAY-ID and by source. relay.cpp forwards and keeps
// the table, allocate.cpp answers ALLOCATE; the serve loop and the NONCE are the server
// module's.
#pragma once

#include "server/nonce.hpp"
#include "server/rate_limit.hpp"
#include "server/serve_loop.hpp"
#include "server/token_bucket.hpp"

#include "punch/relay.hpp"
#include "punch/wire/protocol.hpp"
#include "punch/wire/stun.hpp"

#include <netinet/in.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <functional>
#include <map>
#include <span>
#include <string_view>
#include <vector>

namespace punch {
namespace detail {

// The source index's order and the sides' equality: the socket address's fields compared as
// they are (family, port, address; IPv6 also its scope), without the asio::ip::address objects
// that endpoint's own operator< and == build on every call — they were a tenth of the relay's
// user time per forwarded datagram (docs/performance.md, "Relay: datagrams per CPU-second").
// Any strict order consistent with equality serves a map.
inline int compare_sources(const endpoint& a, const endpoint& b) noexcept {
  const sockaddr* x = a.data();
  const sockaddr* y = b.data();
  if (x->sa_family != y->sa_family) return x->sa_family < y->sa_family ? -1 : 1;
  if (x->sa_family == AF_INET) {
    const auto* p = reinterpret_cast<const sockaddr_in*>(x);
    const auto* q = reinterpret_cast<const sockaddr_in*>(y);
    if (p->sin_port != q->sin_port) return p->sin_port < q->sin_port ? -1 : 1;
    return std::memcmp(&p->sin_addr, &q->sin_addr, sizeof p->sin_addr);
  }
  const auto* p = reinterpret_cast<const sockaddr_in6*>(x);
  const auto* q = reinterpret_cast<const sockaddr_in6*>(y);
  if (p->sin6_port != q->sin6_port) return p->sin6_port < q->sin6_port ? -1 : 1;
  if (const int c = std::memcmp(&p->sin6_addr, &q->sin6_addr, sizeof p->sin6_addr)) return c;
  return p->sin6_scope_id == q->sin6_scope_id ? 0 : (p->sin6_scope_id < q->sin6_scope_id ? -1 : 1);
}
struct source_order {
  bool operator()(const endpoint& a, const endpoint& b) const noexcept { return compare_sources(a, b) < 0; }
};
inline bool same_source(const endpoint& a, const endpoint& b) noexcept { return compare_sources(a, b) == 0; }

// One side of an allocation: where it sends from, and its token bucket.
struct relay_side {
  endpoint address;  // as the socket reports it: forwards go there unchanged
  token_bucket bucket;
  clock::time_point heard{};  // its last datagram or ALLOCATE
};

struct allocation {
  relay_id id{};
  std::array<relay_side, 2> sides;
  std::size_t count = 0;  // 1: waiting for the other side; 2: a pair
  clock::time_point expires{};
};

// What every answer needs to know about its ALLOCATE.
struct allocate_request {
  const stun::message& msg;
  endpoint source;     // unmapped
  std::size_t budget;  // the request's size: no answer is larger
  clock::time_point now;
};

}  // namespace detail

// Hidden: a nested class of an exported one would otherwise be exported with it.
struct PUNCH_LOCAL relay::impl final : detail::datagram_service {
  using clock = detail::clock;
  using request = detail::allocate_request;
  using allocation = detail::allocation;

  impl(datagram_socket& s, relay_options o);

  // datagram_service: what the serve loop calls.
  punch::clock& time() const noexcept override { return options.clock ? *options.clock : steady_clock(); }
  detail::reply handle(std::span<const std::byte> datagram, const endpoint& from, clock::time_point now,
                       std::span<std::byte> answer) override;
  void expire(clock::time_point now) override { sweep(now); }
  duration_histogram& handling_times() noexcept override { return stats.handling; }
  void dropped_full_datagram() noexcept override {
    ++stats.received;
    ++stats.oversized;
  }

  // The decision about one datagram, its answer written into `out`.
  relay_action decide(std::span<const std::byte> d, const endpoint& from, clock::time_point now);

  // allocate.cpp: ALLOCATE and its answers.
  relay_action on_allocate(std::span<const std::byte> d, const endpoint& from, clock::time_point now);
  relay_action allocate(const request& r, const endpoint& from, const relay_id& id);
  relay_action answer(const request& r, std::span<const std::byte> bytes);
  relay_action error(const request& r, int code, std::string_view reason);
  relay_action challenge(const request& r, int code, std::string_view reason);
  relay_action unknown_attributes(const request& r);
  relay_action pad_error(const request& r);

  // relay.cpp: the table.
  // A new side at `from`, its bucket full.
  detail::relay_side new_side(const endpoint& from, clock::time_point now) const;
  // Adds `from` as the next side of `a` (the first, or the second: a pair), and extends it.
  void add_side(allocation& a, const endpoint& from, clock::time_point now);
  bool admit(detail::relay_side& s, clock::time_point now);
  // The live allocation `from` is a side of (an expired one is dropped on the way).
  allocation* by_source_live(const endpoint& from, clock::time_point now);
  void drop(allocation& a, bool expired_event);
  std::size_t sweep(clock::time_point now);
  relay_event event_of(relay_event::kind k, const allocation& a) const {
    return {.what = k, .id = a.id, .a = unmapped(a.sides[0].address),
            .b = a.count > 1 ? unmapped(a.sides[1].address) : endpoint{}};
  }
  void emit(const relay_event& e) {
    if (on_event) on_event(e);
  }

  datagram_socket& socket;
  relay_options options;
  relay_stats stats;
  detail::nonce_issuer nonces;
  detail::rate_limiter limiter;
  detail::serve_loop server;
  std::function<void(const relay_event&)> on_event;
  std::span<std::byte> out;  // the answer buffer of the datagram being handled
  // Both bounded by max_allocations (by_source: two entries per allocation at most); nodes
  // are made only when an allocation or a side is added, never per forwarded datagram.
  std::map<relay_id, allocation> allocations;
  std::map<endpoint, allocation*, detail::source_order> by_source;
  std::vector<relay_event> expired;  // collected by a sweep, emitted after it
};

}  // namespace punch
