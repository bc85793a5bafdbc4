// Transactions with the broker and the relay: a request sent and retransmitted until its
// answer (matched by the receive loop) or its deadline; the answer's NONCE kept for the next
// request; error answers turned into the project's errc.
#include "session/session_state.hpp"

#include "session/fail.hpp"
#include "session/random_ids.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstring>
#include <sstream>

namespace punch::detail {

namespace {

using detail::fail;

std::string str(const endpoint& ep) {
  std::ostringstream s;
  s << ep;
  return s.str();
}

std::string seconds_text(std::chrono::milliseconds d) {
  std::ostringstream s;
  s << static_cast<double>(d.count()) / 1000.0 << " s";
  return s.str();
}

// Maps a broker error response onto our errc; the reason text goes into the message. A 403
// answers Register when the id is live elsewhere, and Connect when our own registration is
// gone (broker restart, expiry) or belongs to another endpoint.
errc errc_from_stun(std::uint16_t method, int code, errc fallback) {
  switch (code) {
    case wire::error::not_found: return errc::peer_not_found;
    case wire::error::forbidden:
      return method == wire::method::register_peer ? errc::id_taken : errc::not_registered;
    case wire::error::insufficient_capacity: return errc::registry_full;
    case wire::error::rate_limited: return errc::rate_limited;
    // A broker of a cluster whose shared registry is down: only its own peers are reachable.
    case wire::error::service_unavailable: return errc::cluster_unavailable;
    case wire::error::unauthenticated:
    case wire::error::stale_nonce: return errc::authentication_failed;
    default: return fallback;
  }
}

std::size_t answer_bound_of(std::uint16_t method) {
  switch (method) {
    case wire::method::register_peer: return wire::answer_bound::reg;
    case wire::method::lookup: return wire::answer_bound::lookup;
    case wire::method::connect: return wire::answer_bound::connect;
    case wire::method::allocate: return wire::answer_bound::allocate;
    default: return 0;
  }
}

}  // namespace

// Sends a broker request and retransmits it (RTO doubling up to 1 s) until its response or
// the deadline. Error responses become failures naming the broker.
asio::awaitable<detail::outcome<session_state::response>> session_state::request(std::uint16_t method,
                                                                std::function<void(stun::builder&)> build,
                                                                clock::time_point deadline,
                                                                std::string_view what, bool sign,
                                                                std::optional<endpoint> server) {
  const endpoint to = server.value_or(broker_main.to);
  const char* const role = options.relay && to == *options.relay ? "relay " : "broker ";
  if (closed) co_return fail(errc::session_closed, std::string(what) + ": session closed");
  const auto id = detail::random_transaction_id();
  std::array<std::byte, stun::max_message_size> buf;
  stun::builder b(buf, stun::message_class::request, method, id);
  build(b);
  wire::pad_request(b, answer_bound_of(method));
  if (sign)
    b.add_covering(wire::attr::signature, signature_size, [&](std::span<const std::byte> covered, std::span<std::byte> out) {
      const auto sig = me.sign(covered);
      std::memcpy(out.data(), sig.data(), sig.size());
    });
  const auto req = b.finish_with_fingerprint();
  if (b.error()) co_return fail(b.error(), std::string(what) + ": request does not fit");

  transaction tx(ex, time, to);
  const listed_transaction listed(requests, id, tx);

  auto rto = options.request_rto;
  const auto started = time.now();
  for (int sent = 1; !closed; ++sent) {
    co_await socket.async_send_to(asio::buffer(req.data(), req.size()), to, asio::as_tuple(asio::use_awaitable));
    const auto wake = std::min(time.now() + rto, deadline);
    if (co_await tx.done.wait_until(wake)) {
      // A round trip to the broker, when the answer cannot be a retransmission's (Karn).
      if (sent == 1 && !server) broker_rtt = std::chrono::duration_cast<std::chrono::milliseconds>(time.now() - started);
      break;
    }
    if (time.now() >= deadline) {
      co_return fail(errc::broker_unreachable,
           std::string(what) + ": no answer from " + role + str(to) + " after " +
               seconds_text(std::chrono::duration_cast<std::chrono::milliseconds>(time.now() - started)));
    }
    rto = std::min<std::chrono::milliseconds>(rto * 2, std::chrono::seconds(1));
  }
  if (closed) co_return fail(errc::session_closed, std::string(what) + ": session closed");
  // Failover chose to end what the old broker would never answer rather than ask the new one
  // for it: a Connect there would introduce us from a broker our peer may not use.
  if (tx.abandoned)
    co_return fail(errc::broker_unreachable, std::string(what) + ": " + role + str(to) +
                                                 " stopped answering; the session moved to broker " + str(broker_main.to));
  if (is_broker(to)) last_broker_answer = time.now();

  response r{std::move(tx.response), {}};
  error_code ec;
  auto m = stun::message::parse(r.bytes, ec);
  if (!m || m->method() != method) co_return fail(errc::bad_response, std::string(what) + ": broker sent a malformed answer");
  r.msg = *m;
  // Register's answers, success or challenge, carry the NONCE the next Register signs.
  if (auto n = m->find(wire::attr::nonce); n && n->value.size() <= 64) {
    if (method == wire::method::register_peer)
      (broker_alt && to == broker_alt->to ? broker_alt->nonce : broker_main.nonce).assign(n->value.begin(), n->value.end());
    if (method == wire::method::allocate) relay_nonce.assign(n->value.begin(), n->value.end());
  }
  if (m->cls() == stun::message_class::error_response) {
    int code = 0;
    std::string reason;
    if (auto a = m->find(stun::attr::error_code))
      if (auto v = stun::decode_error_code(*a, ec)) {
        code = v->code;
        reason = std::string(v->reason);
      }
    co_return fail(errc_from_stun(method, code, errc::rejected),
                   std::string(what) + ": " + role + str(to) + " answered " + std::to_string(code) + " " + reason);
  }
  co_return std::move(r);
}

}  // namespace punch::detail
