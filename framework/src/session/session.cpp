// The peer session's public handle (punch/session.hpp): register_self, lookup, connect and
// accept, each a few steps over the session's private state.
#include "session/session_state.hpp"

#include "session/complete.hpp"
#include "session/connection_state.hpp"
#include "session/fail.hpp"
#include "session/peer_answer.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstring>

namespace punch {

// The private state (session_state, connection_state, punch_attempt) is punch::detail's.
using namespace detail;

namespace {

using detail::fail;

std::optional<detail::failure> check_id(std::string_view id) {
  if (wire::valid_peer_id(id)) return std::nullopt;
  return fail(errc::invalid_peer_id,
              "peer id \"" + std::string(id) + "\" is invalid: use 1 to 64 characters of A-Z a-z 0-9 . _ @ -");
}

}  // namespace

const char* to_string(nat_mapping m) noexcept {
  switch (m) {
    case nat_mapping::endpoint_independent: return "easy";
    case nat_mapping::endpoint_dependent: return "hard";
    case nat_mapping::unknown: break;
  }
  return "unknown";
}

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

endpoint session::broker() const { return state_->broker_main.to; }

const public_key& session::key() const noexcept { return state_->me.key(); }

const session_stats& session::stats() const noexcept { return state_->stats; }

namespace {

asio::awaitable<detail::outcome<registration_info>> registering(std::shared_ptr<session_state> s,
                                                                std::chrono::milliseconds timeout) {
  if (auto bad = check_id(s->options.id)) co_return std::move(*bad);
  // The TURN allocation and the port mapping beside the registration (the first register_self
  // only), never before it: a TURN server or a gateway may take seconds to answer, or never.
  // Each is announced once made, by a Register of its own (late_candidates.cpp); its failure
  // is a turn_failed event, for direct paths work without TURN.
  // direct_only never relays: no allocation either.
  if (!s->options.turn_servers.empty() && !s->turn && s->options.path_policy.mode != path_mode::direct_only)
    asio::co_spawn(
        s->ex,
        [](std::shared_ptr<session_state> s, clock::time_point deadline) -> asio::awaitable<void> {
          // Refused everywhere: nothing to wait for (a grant fires turn_settled with its event).
          if (!co_await s->allocate_turn(deadline)) s->turn_settled.fire();
        }(s, s->time.now() + timeout),
        asio::detached);
  else if (!s->turn)
    s->turn_settled.fire();
  s->start_port_mapping();
  // The current broker first (options.broker at the start), then the fallbacks in order.
  auto info = co_await s->register_in_turn(0, timeout, false);
  if (!info) co_return std::move(info).error();
  s->registration = *info;
  s->registered = true;
  s->emit({.what = session_event::kind::registered, .peer = s->options.id, .address = info->reflexive, .nat = info->nat});
  s->late_candidates_registered();
  if (!s->keepalive_running) {
    s->keepalive_running = true;
    asio::co_spawn(s->ex, s->keepalive_loop(), asio::detached);
  }
  co_return std::move(info);
}

asio::awaitable<detail::outcome<peer_info>> looking_up(std::shared_ptr<session_state> s, std::string target) {
  if (auto bad = check_id(target)) co_return std::move(*bad);
  co_return co_await s->look_up(target, s->time.now() + s->options.request_timeout, "looking up \"" + target + "\"");
}

asio::awaitable<detail::outcome<connection>> connecting(std::shared_ptr<session_state> s, std::string target,
                                                        connect_options co) {
  const auto timeout = co.timeout.value_or(s->options.request_timeout + s->options.punch_timeout);
  const std::optional<public_key> expected = co.expected_key;
  if (auto bad = check_id(target)) co_return std::move(*bad);
  const std::string what = "connecting to \"" + target + "\"";
  if (!s->registered) co_return fail(errc::not_registered, what + ": call register_self() first");
  const auto started = s->time.now();
  const auto deadline = started + timeout;
  // Our NAT's mapping, measured beside the registration, on its way to the broker: the peer
  // chooses how to punch by what the broker tells it of us. Not there by the deadline: without.
  co_await s->nat_settled.wait_until(deadline);
  // Our TURN allocation, made beside the registration, if it is still under way: the broker
  // should hand the peer our relayed address with the introduction, for a pair that only a
  // relay can join. Waited for at most relay_after, when a relayed pair is tried anyway.
  co_await s->turn_settled.wait_until(std::min(deadline, started + s->options.relay_after));
  auto r = co_await s->introduce_me(target, nullptr, deadline, what);
  if (!r) co_return std::move(r).error();
  auto tok = r->msg.find(wire::attr::token);
  if (!tok || tok->value.size() != wire::token_size) co_return fail(errc::bad_response, what + ": broker's answer lacks a token");
  wire::token token;
  std::memcpy(token.data(), tok->value.data(), token.size());
  if (!detail::has_key(r->msg)) co_return fail(errc::bad_response, what + ": broker's answer lacks the peer's PUBLIC-KEY");
  peer_info remote = detail::read_peer(r->msg, target);
  if (expected && remote.key != *expected)
    co_return fail(errc::key_mismatch, what + ": the broker reports key " + to_string(remote.key) + ", expected " +
                                           to_string(*expected));
  auto a = s->make_attempt(token, target, true, remote);
  a->started = started;
  auto c = co_await s->run_punch(a, std::min(deadline, s->time.now() + s->options.punch_timeout));
  if (!c) co_return std::move(c).error();
  asio::co_spawn(s->ex, s->nominate(a, remote_candidate{(*c)->remote, (*c)->path, (*c)->via}), asio::detached);
  co_return connection(std::move(*c));
}

asio::awaitable<detail::outcome<connection>> accepting(std::shared_ptr<session_state> s) {
  while (s->backlog.empty()) {
    if (s->closed) co_return fail(errc::session_closed, "accept: session closed");
    s->accept_ready.reset();
    co_await s->accept_ready.wait_until(clock::time_point::max());
  }
  auto c = std::move(s->backlog.front());
  s->backlog.pop_front();
  co_return connection(std::move(c));
}

}  // namespace

asio::awaitable<registration_info> session::register_self_(state_ptr s, std::chrono::milliseconds timeout,
                                                           error_code* ec) {
  co_return detail::delivered(co_await registering(std::move(s), timeout), ec);
}

void session::async_register_self_(state_ptr s, std::chrono::milliseconds timeout,
                                   completion_handler<registration_info> handler) {
  auto ex = s->ex;
  detail::spawn_for<registration_info>(
      ex, [s = std::move(s), timeout](error_code* ec) { return register_self_(s, timeout, ec); }, std::move(handler));
}

asio::awaitable<peer_info> session::lookup_(state_ptr s, std::string id, error_code* ec) {
  co_return detail::delivered(co_await looking_up(std::move(s), std::move(id)), ec);
}

void session::async_lookup_(state_ptr s, std::string id, completion_handler<peer_info> handler) {
  auto ex = s->ex;
  detail::spawn_for<peer_info>(
      ex, [s = std::move(s), id = std::move(id)](error_code* ec) { return lookup_(s, id, ec); }, std::move(handler));
}

asio::awaitable<connection> session::connect_(state_ptr s, std::string id, connect_options options, error_code* ec) {
  co_return detail::delivered(co_await connecting(std::move(s), std::move(id), std::move(options)), ec);
}

void session::async_connect_(state_ptr s, std::string id, connect_options options, completion_handler<connection> handler) {
  auto ex = s->ex;
  detail::spawn_for<connection>(
      ex, [s = std::move(s), id = std::move(id), options](error_code* ec) { return connect_(s, id, options, ec); },
      std::move(handler));
}

asio::awaitable<connection> session::accept_(state_ptr s, error_code* ec) {
  co_return detail::delivered(co_await accepting(std::move(s)), ec);
}

void session::async_accept_(state_ptr s, completion_handler<connection> handler) {
  auto ex = s->ex;
  detail::spawn_for<connection>(ex, [s = std::move(s)](error_code* ec) { return accept_(s, ec); }, std::move(handler));
}

}  // namespace punch
