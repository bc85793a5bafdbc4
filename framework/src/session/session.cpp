// The peer session's public handle (punch/session.hpp): register_self, lookup, connect and
// accept, each a few steps over the session's private state.
#include "session/session_state.hpp"

#include "session/connection_state.hpp"
#include "session/fail.hpp"
#include "session/peer_answer.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstring>

namespace punch {

namespace {

using detail::fail;

void check_id(std::string_view id) {
  if (!wire::valid_peer_id(id))
    fail(errc::invalid_peer_id, "peer id \"" + std::string(id) +
                                    "\" is invalid: use 1 to 64 characters of A-Z a-z 0-9 . _ @ -");
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

const public_key& session::key() const noexcept { return state_->me.key(); }

const session_stats& session::stats() const noexcept { return state_->stats; }

asio::awaitable<registration_info> session::register_self() {
  return register_self(state_->options.request_timeout);
}

asio::awaitable<registration_info> session::register_self(std::chrono::milliseconds timeout) {
  auto s = state_;
  check_id(s->options.id);
  const auto deadline = s->time.now() + timeout;
  auto info = co_await s->do_register(deadline);
  if (s->options.discover_nat && s->nat == nat_mapping::unknown && s->other_address) {
    // Measured once, then told to the broker at once so that introductions carry it.
    co_await s->discover_nat(info, std::min(deadline, s->time.now() + s->options.request_rto * 4));
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
      s->time.now() + s->options.request_timeout, "looking up \"" + target + "\"");
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
  const auto started = s->time.now();
  const auto deadline = started + timeout;
  const std::string what = "connecting to \"" + target + "\"";
  auto r = co_await s->introduce_me(target, nullptr, deadline, what);
  auto tok = r.msg.find(wire::attr::token);
  if (!tok || tok->value.size() != wire::token_size)
    fail(errc::bad_response, "connecting to \"" + target + "\": broker's answer lacks a token");
  wire::token token;
  std::memcpy(token.data(), tok->value.data(), token.size());
  if (!detail::has_key(r.msg)) fail(errc::bad_response, what + ": broker's answer lacks the peer's PUBLIC-KEY");
  peer_info remote = detail::read_peer(r.msg, target);
  if (expected && remote.key != *expected)
    fail(errc::key_mismatch, what + ": the broker reports key " + to_string(remote.key) + ", expected " +
                                 to_string(*expected));
  auto a = s->make_attempt(token, target, true, remote);
  a->started = started;
  auto c = co_await s->run_punch(a, std::min(deadline, s->time.now() + s->options.punch_timeout));
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
