// The broker service: what a datagram is (rate limit, parse, dispatch by method), the answers
// to Lookup and the error answers, registration expiry, and the public class. Binding lives in
// binding.cpp, Register in register.cpp, Connect and Introduce in connect.cpp; the serve loop
// is the server module's; the wire rules are in docs/protocol.md.
#include "broker/broker_state.hpp"

#include "server/intake.hpp"
#include "server/secret.hpp"

#include "punch/identity.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sodium.h>

#include <algorithm>
#include <charconv>
#include <exception>
#include <sstream>
#include <stdexcept>

namespace punch {

using namespace detail;

namespace {

// Comprehension-required attributes (RFC 8489 §14) the broker understands, or knows it may
// ignore: anything else in a request is answered with 420 (RFC 8489 §6.3.1).
bool understood(std::uint16_t type) {
  switch (type) {
    case wire::attr::peer_id:
    case wire::attr::target_id:
    case wire::attr::host_candidate:
    case wire::attr::reflexive_candidate:
    case wire::attr::lifetime:
    case wire::attr::token:
    case wire::attr::nat_mapping:
    case wire::attr::public_key:
    case wire::attr::signature:
    case wire::attr::nonce:
    case wire::attr::refresh_credential:
    case wire::attr::timestamp:
    case wire::attr::resume:
    case wire::attr::mapped_candidate:
    case wire::attr::padding:
    // A broker without credentials ignores ICE's and long-term auth's attributes.
    case stun::attr::username:
    case stun::attr::message_integrity:
    case stun::attr::message_integrity_sha256:
    case stun::attr::userhash:
    case stun::attr::realm:
    case stun::attr::priority:
    case stun::attr::use_candidate:
      return true;
    default:
      return !stun::attr::comprehension_required(type);
  }
}

// CHANGE-REQUEST asking for no change is harmless (RFC 3489 clients send it in their first
// test); asking to answer from another address or port is something we cannot do.
bool understood(const stun::attribute& a) {
  if (a.type != change_request_attr) return understood(a.type);
  error_code ec;
  auto flags = stun::decode_u32(a, ec);
  return flags && (*flags & 0x6) == 0;  // RFC 5780 §7.2: A (0x4) change IP, B (0x2) change port
}

// Binding answers carry FINGERPRINT only when the request did; punch answers always.
bool answer_fingerprint(const stun::message& m) {
  return m.method() != wire::method::binding || m.has_fingerprint();
}

}  // namespace

broker_secret random_broker_secret() { return random_secret(); }

namespace {

// The options with a secret: the caller's, or a random one. NONCEs and REFRESH-CREDENTIALs
// use the same (each derives its own key from it).
broker_options with_secret(broker_options o) {
  if (!o.nonce_secret) o.nonce_secret = random_broker_secret();
  return o;
}

}  // namespace

broker::impl::impl(datagram_socket& s, registry& r, broker_options o)
    : socket(s),
      reg(r),
      options(with_secret(std::move(o))),
      nonces(*options.nonce_secret),
      credentials(*options.nonce_secret),
      limiter(options.rate_limit, options.rate_burst, options.rate_limit_table),
      // A TIMESTAMP taken at the window's far edge (+window) stays fresh until 2 × window.
      replays(options.timestamp_window.count() > 0 ? options.replay_cache_size : 0, 2 * options.timestamp_window),
      server(s, *this, {.name = "broker", .receive_size = stun::max_message_size, .drop_full_datagrams = false,
                        .expiry_interval = options.expiry_interval}) {
  // The issuers keep their own copies (wiped when they go); the options need none.
  sodium_memzero(options.nonce_secret->data(), options.nonce_secret->size());
  options.nonce_secret.reset();
  // A broker fed through handle() alone may have no socket.
  v6_socket = socket.is_open() && socket.local_endpoint().address().is_v6();
  connects.resize(options.connect_cache_size);
  if (options.cluster) {
    link = std::make_unique<cluster_link>(*options.cluster);
    stats.store = link->state;
    // Both run on our executor (the cluster's contract); the destructor unsets them.
    options.cluster->on_introduction([this](cluster_introduction in) { take_introduction(in); });
    options.cluster->on_state([this](cluster_state s) { on_store_state(s); });
  }
}

endpoint broker::impl::reachable(const registration_record& peer) const {
  // An IPv4 socket cannot send to IPv6; a dual-stack peer is reachable over its other family.
  if (!v6_socket && !peer.reflexive.address().is_v4() && peer.reflexive_alt.port() != 0) return peer.reflexive_alt;
  return peer.reflexive;
}

endpoint broker::impl::socket_form(const endpoint& ep) const {
  if (v6_socket && ep.address().is_v4())
    return {asio::ip::make_address_v6(asio::ip::v4_mapped, ep.address().to_v4()), ep.port()};
  return ep;
}

std::span<const std::byte> broker::impl::respond(std::span<const std::byte> d, const endpoint& src,
                                                clock::time_point now, std::span<std::byte> answer) {
  out = answer;
  ++stats.received;
  const intake in = take_in(limiter, src, now, d, stats.rate_limited);
  if (in.rate_limited) return {};
  const auto& m = in.msg;
  if (!m) {
    // RFC 8489 §11: a request without the magic cookie comes from an RFC 3489 client.
    if (in.ec == errc::bad_magic_cookie) return on_classic_binding(d, src, now);
    ++stats.malformed;
    return {};
  }
  switch (m->cls()) {
    case stun::message_class::request:
      break;
    case stun::message_class::success_response:
    case stun::message_class::error_response:
      if (m->method() == wire::method::introduce) {
        on_introduce_answer(*m, src);
        return {};
      }
      ++stats.malformed;
      return {};
    case stun::message_class::indication:
      ++stats.malformed;
      return {};
  }
  const request r{*m, src, in.source, std::max(d.size(), response_floor), now};
  switch (m->method()) {
    case wire::method::binding:
    case wire::method::register_peer:
    case wire::method::lookup:
    case wire::method::connect:
      break;
    default:  // Introduce goes from the broker to peers, never to the broker
      return error(r, wire::error::bad_request, "unknown method");
  }
  if (options.binding_only && m->method() != wire::method::binding)
    return error(r, wire::error::bad_request, "Binding only on this port");
  if (auto answer = unknown_attributes(r); !answer.empty()) return answer;
  switch (m->method()) {
    case wire::method::binding: return on_binding(r);
    case wire::method::register_peer: return on_register(r);
    case wire::method::lookup: return on_lookup(r);
    default: return on_connect(r);
  }
}

std::span<const std::byte> broker::impl::on_lookup(const request& r) {
  ++stats.lookups;
  auto t = r.msg.find(wire::attr::target_id);
  if (!t) return error(r, wire::error::bad_request, "missing TARGET-ID");
  const std::string_view id = stun::decode_string(*t);
  if (auto why = id_problem(id, true); !why.empty()) return error(r, wire::error::bad_request, why);
  if (!reg.find(id, r.now, found_a)) {
    if (link) return cluster_lookup(r, id);  // held by another broker, maybe
    return error(r, wire::error::not_found, "TARGET-ID not registered");
  }
  stun::builder b(out, stun::message_class::success_response, wire::method::lookup, r.msg.id());
  add_candidates(b, found_a);
  return finish(r, b);
}

void broker::impl::add_candidates(stun::builder& b, const registration_record& peer) {
  b.add_string(wire::attr::peer_id, peer.id());
  b.add(wire::attr::public_key, peer.key);
  b.add_u32(wire::attr::nat_mapping, peer.nat);
  b.add_xor_address(wire::attr::reflexive_candidate, peer.reflexive);
  if (peer.reflexive_alt.port() != 0) b.add_xor_address(wire::attr::reflexive_candidate, peer.reflexive_alt);
  for (const auto& h : peer.host()) b.add_xor_address(wire::attr::host_candidate, h);
  if (peer.mapped.port() != 0) b.add_xor_address(wire::attr::mapped_candidate, peer.mapped);
}

bool broker::impl::fits(const request& r, const stun::builder& b) const {
  return !b.error() && b.size() + stun::fingerprint_size <= r.budget;
}

std::span<const std::byte> broker::impl::finish(const request& r, stun::builder& b) {
  if (b.error()) return error(r, wire::error::server_error, "answer does not fit");
  if (!fits(r, b)) return pad_error(r, b.size() + stun::fingerprint_size);
  return b.finish_with_fingerprint();
}

std::span<const std::byte> broker::impl::pad_error(const request& r, std::size_t answer_size) {
  // Amplification rule: the client pads its request (PADDING) to the answer's size.
  reason_text text;
  return error(r, wire::error::bad_request, pad_reason(text, answer_size));
}

std::span<const std::byte> broker::impl::error(const request& r, int code, std::string_view reason) {
  ++stats.errors_sent;
  return error_answer(out, r.msg, code, reason, answer_fingerprint(r.msg));
}

std::span<const std::byte> broker::impl::unknown_attributes(const request& r) {
  // RFC 8489 §14.9: list the attributes we do not understand, as many as the budget allows.
  auto answer = unknown_attributes_answer(out, r.msg, understood, 16, r.budget, answer_fingerprint(r.msg));
  if (!answer.empty()) ++stats.errors_sent;
  return answer;
}

void broker::impl::expire(clock::time_point now) {
  // Collected first: an event handler must not run while the registry iterates.
  expired.clear();
  reg.expire(now, [this](std::string_view id, const endpoint& ep) {
    if (link) link->forget(id);
    expired.push_back({.what = broker_event::kind::expired, .id = std::string(id), .target = {}, .address = ep});
  });
  for (const auto& e : expired) emit(e);
}

// ---- the public class ----

broker::broker(datagram_socket& socket, registry& reg, broker_options options)
    : impl_(std::make_unique<impl>(socket, reg, std::move(options))) {}

broker::~broker() {
  impl_->stop_introductions();
  if (impl_->link) {
    impl_->link->store.on_introduction({});
    impl_->link->store.on_state({});
  }
}

asio::awaitable<void> broker::run() {
  using namespace asio::experimental::awaitable_operators;
  impl& i = *impl_;
  // Introductions must not outlive run(): stop them however it ends, then report.
  std::exception_ptr failure;
  try {
    co_await i.server.run();
  } catch (...) {
    failure = std::current_exception();
  }
  i.stop_introductions();
  if (failure) std::rethrow_exception(failure);
}

void broker::share_introductions_with(std::vector<broker*> siblings) {
  std::erase(siblings, this);
  impl_->siblings = std::move(siblings);
}

void broker::announce_other_address(std::optional<endpoint> other) { impl_->options.other_address = other; }

void broker::on_event(std::function<void(const broker_event&)> handler) {
  impl_->on_event = std::move(handler);
}

std::span<const std::byte> broker::handle(std::span<const std::byte> datagram, const endpoint& from,
                                          std::span<std::byte> answer) {
  return impl_->respond(datagram, from, impl_->now(), answer);
}

const broker_stats& broker::stats() const noexcept { return impl_->stats; }

endpoint broker::local_endpoint() const { return impl_->socket.local_endpoint(); }

}  // namespace punch
