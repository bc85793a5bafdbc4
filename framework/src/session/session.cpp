// The peer session: broker transactions (register, lookup, connect), the keepalive, the
// receive loop that demultiplexes the one socket, and accept().
#include "session/session_state.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sodium.h>

#include <netinet/in.h>

#include <algorithm>
#include <sstream>

namespace punch {

namespace detail {
stun::transaction_id random_transaction_id() {
  stun::transaction_id id;
  randombytes_buf(id.data(), id.size());
  return id;
}
std::uint64_t random_u64() {
  std::uint64_t v;
  randombytes_buf(&v, sizeof v);
  return v;
}

std::vector<endpoint> gather_host_candidates(transport& t, const endpoint& local) {
  std::vector<endpoint> out;
  if (!local.address().is_unspecified()) {
    if (!local.address().is_loopback()) out.push_back(local);
    return out;
  }
  // 0.0.0.0 reaches IPv4 only; :: is dual-stack and reaches both, IPv6 listed first (RFC 8421).
  const bool dual = local.address().is_v6();
  auto addresses = t.interface_addresses();
  std::stable_partition(addresses.begin(), addresses.end(), [](const asio::ip::address& a) { return a.is_v6(); });
  for (const auto& a : addresses) {
    if (out.size() == wire::max_host_candidates) break;
    if (a.is_v6() && !dual) continue;
    out.emplace_back(a, local.port());
  }
  return out;
}

peer_info read_peer(const stun::message& m, std::string_view fallback_id) {
  peer_info p;
  p.id = std::string(fallback_id);
  error_code ec;
  for (const stun::attribute a : m) {
    if (a.type == wire::attr::peer_id) {
      p.id = std::string(stun::decode_string(a));
    } else if (a.type == wire::attr::public_key && a.value.size() == p.key.size()) {
      std::memcpy(p.key.data(), a.value.data(), p.key.size());
    } else if (a.type == wire::attr::nat_mapping) {
      if (auto v = stun::decode_u32(a, ec); v && *v <= 2) p.nat = static_cast<nat_mapping>(*v);
    } else if (a.type == wire::attr::reflexive_candidate) {
      // A dual-stack peer has one per family.
      if (auto ep = stun::decode_xor_address(a, m.id(), ec)) {
        if (p.reflexive.port() == 0)
          p.reflexive = *ep;
        else if (!p.reflexive_other && ep->address().is_v4() != p.reflexive.address().is_v4())
          p.reflexive_other = *ep;
      }
    } else if (a.type == wire::attr::host_candidate && p.host.size() < wire::max_host_candidates) {
      if (auto ep = stun::decode_xor_address(a, m.id(), ec)) p.host.push_back(*ep);
    }
  }
  return p;
}

}  // namespace detail

namespace {

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

[[noreturn]] void fail(errc e, const std::string& what) { throw system_error(make_error_code(e), what); }

void check_id(std::string_view id) {
  if (!wire::valid_peer_id(id))
    fail(errc::invalid_peer_id, "peer id \"" + std::string(id) +
                                    "\" is invalid: use 1 to 64 characters of A-Z a-z 0-9 . _ @ -");
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

bool has_key(const stun::message& m) {
  auto k = m.find(wire::attr::public_key);
  return k && k->value.size() == public_key_size;
}

}  // namespace

session_state::session_state(transport& t, session_options o)
    : net(t),
      ex(t.get_executor()),
      options(std::move(o)),
      me(options.key ? *options.key : identity::generate()),
      socket(t.open(options.local)),
      keepalive_timer(ex),
      accept_ready(ex) {
  if (sodium_init() < 0) fail(errc::rejected, "libsodium failed to initialise");
  if (options.allow_aes_gcm && crypto_aead_aes256gcm_is_available()) ciphers |= wire::cipher::aes256gcm;
  broker_main.to = options.broker;
  // Only a dual-stack socket ("::") reaches both families.
  if (options.broker_other_family) {
    const endpoint local = socket.local_endpoint();
    const bool dual = local.address().is_v6() && local.address().is_unspecified();
    if (dual && options.broker_other_family->address().is_v4() != options.broker.address().is_v4())
      broker_alt = broker_link{*options.broker_other_family, {}, {}};
  }
  host_candidates = options.host_candidates.empty() ? detail::gather_host_candidates(net, socket.local_endpoint())
                                                    : options.host_candidates;
  if (host_candidates.size() > wire::max_host_candidates) host_candidates.resize(wire::max_host_candidates);
}

void session_state::shutdown() {
  if (closed) return;
  closed = true;
  keepalive_timer.cancel();
  for (auto& [id, tx] : requests) tx->done.fire();
  for (auto& [token, a] : punches) {
    a->done.fire();
    a->nominated.fire();
  }
  for (auto& [tag, weak] : connections)
    if (auto c = weak.lock(); c && c->open) {
      c->send_farewell();
      c->mark_closed(make_error_code(errc::connection_closed), "connection to \"" + c->peer + "\" ended: session closed", false);
    }
  // Punched connections nobody accepted: they hold this state, and it holds them.
  for (auto& c : backlog) {
    c->send_farewell();
    c->mark_closed(make_error_code(errc::connection_closed), "connection from \"" + c->peer + "\" not accepted: session closed", false);
  }
  backlog.clear();
  accept_ready.fire();
  for (auto& [token, a] : punches)
    for (auto& sock : a->spray)
      if (sock) sock->close();
  socket.close();
}

// One coroutine reads every datagram of the socket and routes it: broker responses and check
// responses by transaction id, introductions and checks by method, data frames by tag.
asio::awaitable<void> session_state::receive_loop() {
  auto self = shared_from_this();  // the loop keeps the state alive until the socket closes
  int consecutive_errors = 0;
  while (!closed) {
    auto [ec, n] = co_await socket.async_receive_from(asio::buffer(rx_buffer), rx_from,
                                                      asio::as_tuple(asio::use_awaitable));
    const auto next = judge(ec, socket, consecutive_errors);
    if (next == after_receive::stop) break;
    if (next == after_receive::skip) continue;
    const std::span<std::byte> d(rx_buffer.data(), n);
    const endpoint from = unmapped(rx_from);
    if (wire::looks_like_frame(d)) {
      handle_frame(d, from);
    } else if (stun::looks_like_stun(d)) {
      co_await handle_stun(d, from);
    }
  }
}

session_state::after_receive session_state::judge(const error_code& ec, const datagram_socket& s,
                                                  int& consecutive_errors) const {
  if (closed || ec == asio::error::operation_aborted || !s.is_open()) return after_receive::stop;
  if (ec) return ++consecutive_errors > 64 ? after_receive::stop : after_receive::skip;
  consecutive_errors = 0;
  return after_receive::handle;
}

void session_state::handle_frame(std::span<std::byte> d, const endpoint& from, std::size_t via,
                                 const punch_attempt* owner) {
  auto it = connections.find(wire::frame_tag_of(d));
  if (it == connections.end()) return hold_early_frame(d, from, via, owner);
  auto c = it->second.lock();
  // A prediction socket belongs to one attempt: another connection's frames are not its.
  if (c && (via == 0 || c->attempt.get() == owner)) c->on_frame(d, from, via);
}

void session_state::hold_early_frame(std::span<const std::byte> d, const endpoint& from, std::size_t via,
                                     const punch_attempt* owner) {
  auto it = unconnected.find(wire::frame_tag_of(d));
  if (it == unconnected.end()) return;  // no attempt of ours: stray or forged
  auto a = it->second.lock();
  if (!a || a->finished || (via != 0 && a.get() != owner)) return;
  // Unopened yet: the connection's keys exist once our handshake completes. A forged frame
  // takes a slot until then, and is rejected (counted) when the connection opens it.
  if (a->held.size() >= punch_attempt::max_held_frames || a->held_bytes + d.size() > punch_attempt::max_held_bytes) {
    ++stats.frames_held_dropped;
    return;
  }
  a->held.push_back({std::vector<std::byte>(d.begin(), d.end()), from, via});
  a->held_bytes += d.size();
}

asio::awaitable<void> session_state::handle_stun(std::span<const std::byte> d, const endpoint& from) {
  error_code ec;
  auto m = stun::message::parse(d, ec);
  if (!m) co_return;
  switch (m->cls()) {
    case stun::message_class::success_response:
    case stun::message_class::error_response: {
      if (auto it = requests.find(m->id()); it != requests.end()) {
        if (from != it->second->to) co_return;  // only the broker (or relay) asked answers
        it->second->response.assign(d.begin(), d.end());
        it->second->done.fire();
      } else if (m->method() == wire::method::binding &&
                 m->cls() == stun::message_class::success_response) {
        handle_check_response(*m, from);
      }
      break;
    }
    case stun::message_class::request:
      if (m->method() == wire::method::introduce && is_broker(from)) {
        // Acknowledge first (the broker retransmits until we do), then punch.
        std::array<std::byte, 64> buf;
        stun::builder b(buf, stun::message_class::success_response, wire::method::introduce, m->id());
        auto ack = b.finish_with_fingerprint();
        co_await socket.async_send_to(asio::buffer(ack.data(), ack.size()), from,
                                      asio::as_tuple(asio::use_awaitable));
        auto tok = m->find(wire::attr::token);
        if (!tok || tok->value.size() != wire::token_size) co_return;
        wire::token token;
        std::memcpy(token.data(), tok->value.data(), token.size());
        if (punches.contains(wire::derive_keys(token).punch_id)) co_return;  // a retransmitted introduction
        peer_info remote = detail::read_peer(*m, "");
        // Without the peer's key there is no handshake to authenticate: not a punch to join.
        if (!wire::valid_peer_id(remote.id) || !has_key(*m)) co_return;
        if (auto r = m->find(wire::attr::resume)) {
          // A re-introduction: the peer moved. Punch for that live connection, or not at all
          // (it is gone here: its connection times out on that side).
          auto c = r->value.size() == wire::resume_size ? find_resumable(r->value, remote) : nullptr;
          if (!c) co_return;
          emit({.what = session_event::kind::introduced, .peer = remote.id, .address = remote.reflexive, .nat = remote.nat});
          auto a = make_attempt(token, remote.id, false, remote);
          unconnected.erase(a->keys.tag);
          a->keys.relay_id = c->relay_id;
          asio::co_spawn(ex, accept_resume(a, c), asio::detached);
          co_return;
        }
        emit({.what = session_event::kind::introduced, .peer = remote.id, .address = remote.reflexive, .nat = remote.nat});
        auto a = make_attempt(token, remote.id, false, remote);
        asio::co_spawn(ex, accept_introduction(a), asio::detached);
      } else if (m->method() == wire::method::binding) {
        co_await handle_check_request(*m, from);
      }
      break;
    case stun::message_class::indication:
      break;
  }
}

// Sends a broker request and retransmits it (RTO doubling up to 1 s) until its response or
// the deadline. Error responses become system_errors naming the broker.
template <typename Build>
asio::awaitable<session_state::response> session_state::request(std::uint16_t method, Build&& build,
                                                                clock::time_point deadline,
                                                                std::string_view what, bool sign,
                                                                std::optional<endpoint> server) {
  const endpoint to = server.value_or(options.broker);
  const char* const role = options.relay && to == *options.relay ? "relay " : "broker ";
  if (closed) fail(errc::connection_closed, "session is closed");
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
  if (b.error()) throw system_error(b.error(), std::string(what) + ": request does not fit");

  transaction tx(ex, to);
  requests.emplace(id, &tx);
  struct unregister {
    session_state* s;
    stun::transaction_id id;
    ~unregister() { s->requests.erase(id); }
  } guard{this, id};

  auto rto = options.request_rto;
  const auto started = clock::now();
  for (int sent = 1; !closed; ++sent) {
    co_await socket.async_send_to(asio::buffer(req.data(), req.size()), to, asio::as_tuple(asio::use_awaitable));
    const auto wake = std::min(clock::now() + rto, deadline);
    if (co_await tx.done.wait_until(wake)) {
      // A round trip to the broker, when the answer cannot be a retransmission's (Karn).
      if (sent == 1 && !server) broker_rtt = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started);
      break;
    }
    if (clock::now() >= deadline) {
      fail(errc::broker_unreachable,
           std::string(what) + ": no answer from " + role + str(to) + " after " +
               seconds_text(std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started)));
    }
    rto = std::min<std::chrono::milliseconds>(rto * 2, std::chrono::seconds(1));
  }
  if (closed) fail(errc::connection_closed, std::string(what) + ": session closed");

  response r{std::move(tx.response), {}};
  error_code ec;
  auto m = stun::message::parse(r.bytes, ec);
  if (!m || m->method() != method) fail(errc::bad_response, std::string(what) + ": broker sent a malformed answer");
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
    throw system_error(make_error_code(errc_from_stun(method, code, errc::rejected)),
                       std::string(what) + ": " + role + str(to) + " answered " +
                           std::to_string(code) + " " + reason);
  }
  co_return r;
}

asio::awaitable<session_state::response> session_state::introduce_me(const std::string& target,
                                                                     const std::array<std::byte, wire::resume_size>* resume,
                                                                     clock::time_point deadline, const std::string& what) {
  const auto build = [&](stun::builder& b) {
    b.add_string(wire::attr::peer_id, options.id);
    b.add_string(wire::attr::target_id, target);
    if (resume) b.add(wire::attr::resume, *resume);
  };
  try {
    co_return co_await request(wire::method::connect, build, std::min(deadline, clock::now() + options.request_timeout), what);
  } catch (const system_error& e) {
    if (e.code() != errc::not_registered) throw;
  }
  // The broker forgot us (it restarted, or our registration expired before the keepalive
  // refreshed it): register again once, then ask again.
  registration = co_await do_register(std::min(deadline, clock::now() + options.request_timeout));
  emit({.what = session_event::kind::refreshed, .peer = options.id, .address = registration.reflexive});
  co_return co_await request(wire::method::connect, build, std::min(deadline, clock::now() + options.request_timeout), what);
}

// At relay_after without an answered pair (punch.cpp starts it with run_punch).
asio::awaitable<void> session_state::allocate_relay(std::shared_ptr<punch_attempt> a, clock::time_point deadline) {
  auto self = shared_from_this();
  // A direct pair that answers within relay_after makes the relay unnecessary. Port
  // prediction gets two seconds of probing first (2000 probes against 256 mappings miss about
  // once in 3000); the relay would win the race otherwise, and the upgrade come later.
  auto from = a->relay_first ? a->started : a->started + options.relay_after;
  if (a->prediction_start && !a->relay_first) from = std::max(from, *a->prediction_start + std::chrono::seconds(2));
  if (co_await a->done.wait_until(std::min(from, deadline)) || closed) co_return;
  const endpoint relay = *options.relay;
  const std::string what = "allocating at the relay for \"" + a->peer + "\"";
  for (int attempt = 1; attempt <= 3 && !closed && !a->done.fired(); ++attempt) {
    const bool with_nonce = !relay_nonce.empty();
    try {
      co_await request(
          wire::method::allocate,
          [&](stun::builder& b) {
            b.add(wire::attr::relay_id, a->keys.relay_id);
            if (with_nonce) b.add(wire::attr::nonce, relay_nonce);
          },
          deadline, what, false, relay);
    } catch (const system_error& e) {
      // 401 (no nonce yet, or a stale one) is answered with a fresh nonce: ask again once.
      if (e.code() == errc::authentication_failed && !relay_nonce.empty()) continue;
      co_return;  // the relay is unreachable or refused: direct paths only
    }
    if (!a->find(relay)) a->remotes.push_back({relay, path_kind::relay});
    co_return;
  }
}

asio::awaitable<registration_info> session_state::do_register(clock::time_point deadline, broker_link* over) {
  broker_link& link = over ? *over : broker_main;
  auto& nonce = link.nonce;
  auto& refresh_credential = link.refresh_credential;
  const std::optional<endpoint> server = over ? std::optional<endpoint>(link.to) : std::nullopt;
  const std::string what = "registering \"" + options.id + "\"";
  // The broker binds our id to our key: a Register is signed over a NONCE the broker gave us
  // (docs/protocol.md). Without a nonce, or with a stale one, the broker answers 401/438
  // with a fresh nonce, and we ask again at once. Its answer carries a REFRESH-CREDENTIAL:
  // while nothing we register changes, the keepalive sends that instead of a signature, which
  // spares the broker a signature verification per refresh.
  // NAT-MAPPING may change under a credential: telling the broker what discovery measured
  // right after the first Register costs no second signature.
  bool refreshing = !refresh_credential.empty();
  std::optional<response> answer;
  for (int attempt = 1; !answer;) {
    const bool signing = !refreshing && !nonce.empty();
    try {
      answer.emplace(co_await request(
          wire::method::register_peer,
          [&](stun::builder& b) {
            b.add_string(wire::attr::peer_id, options.id);
            b.add_u32(wire::attr::lifetime, static_cast<std::uint32_t>(options.lifetime.count()));
            for (const auto& h : host_candidates) b.add_xor_address(wire::attr::host_candidate, h);
            b.add(wire::attr::public_key, me.key());
            if (nat != nat_mapping::unknown) b.add_u32(wire::attr::nat_mapping, static_cast<std::uint32_t>(nat));
            if (refreshing) b.add(wire::attr::refresh_credential, refresh_credential);
            if (signing) b.add(wire::attr::nonce, nonce);
          },
          deadline, what, signing, server));
    } catch (const system_error& e) {
      if (e.code() != errc::authentication_failed) throw;
      // A refused refresh (the credential expired, our address changed, the broker restarted)
      // comes with a fresh NONCE: sign over it at once.
      if (refreshing) {
        refreshing = false;
        refresh_credential.clear();
        continue;
      }
      // Once unsigned (no nonce yet) and once with a stale nonce may be refused; not more.
      if (++attempt > 3 || nonce.empty()) throw;
    }
  }
  auto& r = *answer;
  // A signed Register's answer: the credential for the refreshes to come.
  if (auto c = r.msg.find(wire::attr::refresh_credential); c && c->value.size() == wire::refresh_credential_size) {
    refresh_credential.assign(c->value.begin(), c->value.end());
  }
  registration_info info;
  error_code ec;
  auto mapped = r.msg.find(stun::attr::xor_mapped_address);
  auto reflexive = mapped ? stun::decode_xor_address(*mapped, r.msg.id(), ec) : std::nullopt;
  if (!reflexive) fail(errc::bad_response, what + ": broker's answer lacks XOR-MAPPED-ADDRESS");
  info.reflexive = *reflexive;
  if (auto lt = r.msg.find(wire::attr::lifetime))
    if (auto v = stun::decode_u32(*lt, ec)) info.lifetime = std::chrono::seconds(*v);
  if (auto other = r.msg.find(wire::attr::other_address))
    if (auto ep = stun::decode_address(*other, ec)) {
      // An unspecified address (a broker listening on every address): the one we reached it at.
      if (!over) other_address = ep->address().is_unspecified() ? endpoint(options.broker.address(), ep->port()) : *ep;
    }
  info.nat = nat;
  co_return info;
}

asio::awaitable<void> session_state::register_other_family(registration_info& info, clock::time_point deadline) {
  if (!broker_alt) co_return;
  try {
    info.reflexive_other = (co_await do_register(deadline, &*broker_alt)).reflexive;
  } catch (const system_error&) {
    // That family does not reach the broker (no route, a firewall): the other one stands.
    info.reflexive_other.reset();
  }
}

asio::awaitable<void> session_state::discover_nat(const registration_info& info, clock::time_point deadline) {
  if (!other_address) co_return;
  try {
    auto r = co_await request(wire::method::binding, [](stun::builder&) {}, deadline,
                              "measuring our NAT's mapping", false, *other_address);
    error_code ec;
    auto mapped = r.msg.find(stun::attr::xor_mapped_address);
    auto seen = mapped ? stun::decode_xor_address(*mapped, r.msg.id(), ec) : std::nullopt;
    if (!seen) co_return;
    // The same external address toward another destination port: endpoint-independent.
    nat = *seen == info.reflexive ? nat_mapping::endpoint_independent : nat_mapping::endpoint_dependent;
  } catch (const system_error&) {
    // No answer from the other port (filtered, or not served): the mapping stays unknown.
  }
}

// Refreshes the registration and, with it, the NAT mapping toward the broker. After a broker
// restart the refresh simply registers again.
asio::awaitable<void> session_state::keepalive_loop() {
  auto self = shared_from_this();
  while (!closed) {
    keepalive_timer.expires_after(options.keepalive);
    co_await keepalive_timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (closed) break;
    try {
      const auto deadline = clock::now() + std::min<std::chrono::milliseconds>(options.request_timeout, options.keepalive);
      auto info = co_await do_register(deadline);
      co_await register_other_family(info, deadline);
      const bool changed = info.reflexive != registration.reflexive || info.reflexive_other != registration.reflexive_other;
      registration = info;
      emit({.what = session_event::kind::refreshed, .peer = options.id, .address = info.reflexive});
      // Our NAT gave us another address (a reboot, a mapping that expired, another network):
      // every connection checks its path at once instead of at its next silence.
      if (changed) moved();
    } catch (const system_error& e) {
      if (closed) break;
      emit({.what = session_event::kind::refresh_failed, .peer = options.id, .error = e.code()});
    }
  }
  keepalive_running = false;
}

const char* to_string(nat_mapping m) noexcept {
  switch (m) {
    case nat_mapping::endpoint_independent: return "easy";
    case nat_mapping::endpoint_dependent: return "hard";
    case nat_mapping::unknown: break;
  }
  return "unknown";
}

// ---- the public handle ----

session::session(transport& t, session_options options)
    : state_(std::make_shared<session_state>(t, std::move(options))) {
  asio::co_spawn(state_->ex, state_->receive_loop(), asio::detached);
}

session::~session() {
  if (state_) state_->shutdown();
}

void session::close() { state_->shutdown(); }

void session::on_event(std::function<void(const session_event&)> handler) {
  state_->on_event = std::move(handler);
}

endpoint session::local_endpoint() const { return state_->socket.local_endpoint(); }

const session_options& session::options() const noexcept { return state_->options; }

const public_key& session::key() const noexcept { return state_->me.key(); }

const session_stats& session::stats() const noexcept { return state_->stats; }

asio::awaitable<registration_info> session::register_self() {
  return register_self(state_->options.request_timeout);
}

asio::awaitable<registration_info> session::register_self(std::chrono::milliseconds timeout) {
  auto s = state_;
  check_id(s->options.id);
  const auto deadline = clock::now() + timeout;
  auto info = co_await s->do_register(deadline);
  if (s->options.discover_nat && s->nat == nat_mapping::unknown && s->other_address) {
    // Measured once, then told to the broker at once so that introductions carry it.
    co_await s->discover_nat(info, std::min(deadline, clock::now() + s->options.request_rto * 4));
    if (s->nat != nat_mapping::unknown) {
      // Best effort: if this one is lost, the registration stands and the next refresh
      // carries NAT-MAPPING.
      bool told = false;
      try {
        info = co_await s->do_register(deadline);
        told = true;
      } catch (const system_error&) {
      }
      if (!told) info.nat = s->nat;
    }
  }
  co_await s->register_other_family(info, deadline);
  s->registration = info;
  s->registered = true;
  s->emit({.what = session_event::kind::registered, .peer = s->options.id, .address = info.reflexive, .nat = info.nat});
  if (!s->keepalive_running) {
    s->keepalive_running = true;
    asio::co_spawn(s->ex, s->keepalive_loop(), asio::detached);
  }
  co_return info;
}

asio::awaitable<peer_info> session::lookup(std::string_view id) {
  auto s = state_;
  check_id(id);
  const std::string target(id);
  auto r = co_await s->request(
      wire::method::lookup, [&](stun::builder& b) { b.add_string(wire::attr::target_id, target); },
      clock::now() + s->options.request_timeout, "looking up \"" + target + "\"");
  co_return detail::read_peer(r.msg, target);
}

asio::awaitable<connection> session::connect(std::string_view id) {
  return connect(id, connect_options{});
}

asio::awaitable<connection> session::connect(std::string_view id, std::chrono::milliseconds timeout) {
  return connect(id, connect_options{.timeout = timeout, .expected_key = {}});
}

asio::awaitable<connection> session::connect(std::string_view id, connect_options co) {
  auto s = state_;
  const auto timeout = co.timeout.value_or(s->options.request_timeout + s->options.punch_timeout);
  const std::optional<public_key> expected = co.expected_key;
  check_id(id);
  const std::string target(id);
  if (!s->registered)
    fail(errc::not_registered, "connecting to \"" + target + "\": call register_self() first");
  const auto started = clock::now();
  const auto deadline = started + timeout;
  const std::string what = "connecting to \"" + target + "\"";
  auto r = co_await s->introduce_me(target, nullptr, deadline, what);
  auto tok = r.msg.find(wire::attr::token);
  if (!tok || tok->value.size() != wire::token_size)
    fail(errc::bad_response, "connecting to \"" + target + "\": broker's answer lacks a token");
  wire::token token;
  std::memcpy(token.data(), tok->value.data(), token.size());
  if (!has_key(r.msg)) fail(errc::bad_response, what + ": broker's answer lacks the peer's PUBLIC-KEY");
  peer_info remote = detail::read_peer(r.msg, target);
  if (expected && remote.key != *expected)
    fail(errc::key_mismatch, what + ": the broker reports key " + to_string(remote.key) + ", expected " +
                                 to_string(*expected));
  auto a = s->make_attempt(token, target, true, remote);
  a->started = started;
  auto c = co_await s->run_punch(a, std::min(deadline, clock::now() + s->options.punch_timeout));
  asio::co_spawn(s->ex, s->nominate(a, remote_candidate{c->remote, c->path, c->via}), asio::detached);
  co_return connection(c);
}

asio::awaitable<connection> session::accept() {
  auto s = state_;
  while (s->backlog.empty()) {
    if (s->closed) fail(errc::connection_closed, "accept: session closed");
    s->accept_ready.reset();
    co_await s->accept_ready.wait_until(clock::time_point::max());
  }
  auto c = std::move(s->backlog.front());
  s->backlog.pop_front();
  co_return connection(c);
}

}  // namespace punch
