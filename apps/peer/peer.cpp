// punch-peer's work as coroutines: getting connected within the deadline, then netcat over
// datagrams until either side closes.
#include "peer.hpp"

#include "events.hpp"
#include "line_reader.hpp"
#include "stream_pipe.hpp"

#include "punch/plugins/builtin.hpp"
#include "punch/session.hpp"
#include "punch/transport_registry.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <vector>

namespace punch::peer_app {
namespace {

using clock = std::chrono::steady_clock;
using asio::use_awaitable;
using namespace asio::experimental::awaitable_operators;

// The session's own error messages win over our outer deadline when both are due.
constexpr auto deadline_grace = std::chrono::milliseconds{500};

enum class close_reason { local, remote };

// SIGINT/SIGTERM before a connection was up: a plain message, no error code to explain.
struct interrupted : std::runtime_error {
  explicit interrupted(int signo)
      : std::runtime_error{std::string{"interrupted by "} +
                           (signo == SIGINT ? "SIGINT" : "SIGTERM") +
                           " before a connection was up"} {}
};

void say(std::string_view message) {
  std::string line = "punch-peer: ";
  line.append(message);
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

// Boost's what() ends with " [punch:200]" (category and value); the message before it
// already names the thing, which is what a user reads.
std::string describe(const system_error& e) {
  std::string text = e.what();
  auto tag = text.rfind(" [" + e.code().to_string());
  if (tag != std::string::npos && text.ends_with(']')) text.erase(tag);
  return text;
}

std::chrono::milliseconds remaining(clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now());
  return std::max(left, std::chrono::milliseconds{1});
}

// `||` waits for the first operation that *succeeds*, so a failure (peer_not_found after
// 5 ms) would otherwise wait for the timer. Here a failure is a result too, rethrown by take().
template <typename T>
struct outcome {
  std::exception_ptr error;
  std::optional<T> value;

  T take() {
    if (error) std::rethrow_exception(error);
    return std::move(*value);
  }
};

template <typename T>
asio::awaitable<outcome<T>> settle(asio::awaitable<T> op) {
  outcome<T> result;
  try {
    result.value.emplace(co_await std::move(op));
  } catch (...) {
    result.error = std::current_exception();  // not swallowed: take() rethrows it
  }
  co_return result;
}

// Runs `op` until it ends, `deadline` passes (errc::timeout; `what` says what was late) or
// SIGINT/SIGTERM arrives.
template <typename T>
asio::awaitable<T> bounded(asio::awaitable<T> op, clock::time_point deadline,
                           asio::signal_set& signals, std::string what) {
  asio::steady_timer timer{co_await asio::this_coro::executor, deadline};
  auto r = co_await (settle(std::move(op)) || timer.async_wait(use_awaitable) ||
                     signals.async_wait(use_awaitable));
  if (r.index() == 1) throw system_error{make_error_code(errc::timeout), what};
  if (r.index() == 2) throw interrupted{std::get<2>(r)};
  co_return std::get<0>(std::move(r)).take();
}

// Getaddrinfo cannot be interrupted: a hung DNS lookup outlives the deadline (asio's resolver
// ignores cancellation), so names are best avoided where the deadline matters.
asio::awaitable<std::vector<endpoint>> resolve_all(const host_port& server, std::string_view role) {
  asio::ip::udp::resolver resolver{co_await asio::this_coro::executor};
  auto [ec, results] = co_await resolver.async_resolve(
      server.host, std::to_string(server.port), asio::ip::udp::resolver::numeric_service,
      asio::as_tuple(use_awaitable));
  if (ec) throw system_error{ec, "cannot resolve " + std::string(role) + " host \"" + server.host + "\""};
  std::vector<endpoint> out;
  for (const auto& r : results) out.push_back(r.endpoint());
  co_return out;
}

// Which of the server's addresses our socket reaches: a dual-stack socket ("::") reaches
// both families, an IPv4 one only IPv4, an IPv6 one bound to an address only IPv6.
bool reaches(const endpoint& local, const endpoint& to) {
  if (local.address().is_v6() && local.address().is_unspecified()) return true;
  return local.address().is_v4() == to.address().is_v4();
}

// The broker's addresses as our socket uses them: the first of IPv4 (where NAT discovery
// matters) and the other family's beside it when the socket is dual-stack.
struct broker_addresses {
  endpoint main;
  std::optional<endpoint> other_family;
};

asio::awaitable<broker_addresses> resolve_broker(const broker_hosts& o, const endpoint& local) {
  auto all = co_await resolve_all(o.main, "broker");
  if (o.other) {
    auto more = co_await resolve_all(*o.other, "broker");
    all.insert(all.end(), more.begin(), more.end());
  }
  std::optional<endpoint> v4, v6;
  for (const auto& ep : all) {
    if (!reaches(local, ep)) continue;
    auto& slot = ep.address().is_v4() ? v4 : v6;
    if (!slot) slot = ep;
  }
  if (!v4 && !v6)
    throw system_error{asio::error::address_family_not_supported,
                       "cannot reach broker \"" + o.main.host + "\" from --bind " + to_text(local) +
                           ": no address of its family"};
  broker_addresses b;
  b.main = v4 ? *v4 : *v6;
  if (v4 && v6) b.other_family = *v6;
  co_return b;
}

asio::awaitable<endpoint> resolve_server(const peer_options& o, const endpoint& local, const host_port& server,
                                         std::string_view role) {
  auto all = co_await resolve_all(server, role);
  for (const auto& ep : all)
    if (reaches(local, ep)) co_return ep;
  throw system_error{asio::error::address_family_not_supported,
                     "cannot resolve " + std::string(role) + " host \"" + server.host +
                         "\" to an address that --bind " + to_text(o.bind) + " reaches"};
}

// The socket's address: --bind, or the dual-stack "::" where the machine has IPv6 at all.
endpoint local_endpoint_for(const peer_options& o, transport& t) {
  if (o.bind_given || !o.bind.address().is_v6()) return o.bind;
  error_code ec;
  auto probe = t.open(o.bind, ec);
  if (!ec) {
    probe.close();
    return o.bind;
  }
  return endpoint{asio::ip::address_v4::any(), o.bind.port()};
}

// Every --broker resolved, in order: the session's broker, then its fallbacks.
asio::awaitable<std::vector<broker_addresses>> resolve_brokers(const peer_options& o, const endpoint& local) {
  std::vector<broker_addresses> out;
  // Named, not a temporary in the co_await: GCC 12 destroys such a temporary twice.
  const broker_hosts first{o.broker, o.broker_other};
  out.push_back(co_await resolve_broker(first, local));
  for (const auto& b : o.fallback_brokers) out.push_back(co_await resolve_broker(b, local));
  co_return out;
}

asio::awaitable<connection> get_connected(session& s, const peer_options& o,
                                          clock::time_point deadline, event_log& log) {
  // One broker may take the whole deadline (it may come up late); with several, each is
  // given the request timeout before the next is tried.
  const auto per_broker = o.fallback_brokers.empty() ? remaining(deadline)
                                                     : std::min(s.options().request_timeout, remaining(deadline));
  auto reg = co_await s.register_self(per_broker);
  log.registered(o.id, s.key(), reg.reflexive, reg.nat, reg.reflexive_other, reg.broker);
  // Not `o.connect ? co_await ... : co_await ...`: GCC 12 destroys a co_await temporary
  // of the conditional operator twice (a double free of the connection state).
  connection c;
  if (o.connect)
    c = co_await s.connect(*o.connect, connect_options{.timeout = remaining(deadline),
                                                       .expected_key = o.expect_key});
  else
    c = co_await s.accept();
  log.connected(c.peer(), c.peer_key(), c.remote_endpoint(), c.path());
  co_return c;
}

// Each stdin line is one datagram; end of input closes the connection (the other side's
// receive then ends with asio::error::eof).
asio::awaitable<close_reason> send_lines(connection c, line_reader& lines) {
  while (auto line = co_await lines.next()) co_await c.send(asio::buffer(*line));
  co_await c.close();
  co_return close_reason::local;
}

// Each datagram is one stdout line, flushed so that a pipe reader sees it at once.
asio::awaitable<close_reason> print_datagrams(connection c) {
  std::vector<char> buffer(connection::max_payload());
  for (;;) {
    auto [ec, n] = co_await c.receive(asio::buffer(buffer), asio::as_tuple(use_awaitable));
    // The other side's close() is the normal end, not a failure.
    if (ec == asio::error::eof) co_return close_reason::remote;
    if (ec) throw system_error{ec, "receiving from \"" + c.peer() + "\""};
    std::fwrite(buffer.data(), 1, n, stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }
}

// Until either side closes, SIGINT/SIGTERM (closes ours cleanly) or the connection fails.
asio::awaitable<close_reason> relay(connection c, line_reader& lines, asio::signal_set& signals) {
  auto r = co_await (settle(send_lines(c, lines)) || settle(print_datagrams(c)) ||
                     signals.async_wait(use_awaitable));
  switch (r.index()) {
    case 0: co_return std::get<0>(std::move(r)).take();
    case 1: co_return std::get<1>(std::move(r)).take();
    default:
      co_await c.close();
      co_return close_reason::local;
  }
}

}  // namespace

asio::awaitable<int> run_peer(const peer_options& o, clock::time_point start) {
  auto ex = co_await asio::this_coro::executor;
  const auto deadline = clock::now() + o.timeout;
  event_log log{o.events, start};
  auto fail = [&](std::string message) {
    log.error(message);
    say(message);
  };
  // Caught from the start: a signal during the connect phase must not kill us mid-close.
  asio::signal_set signals{ex, SIGINT, SIGTERM};
  // Reading starts now, so lines typed before the connection is up are queued. --stream
  // reads stdin itself, once the stream is open.
  std::optional<line_reader> lines;
  if (!o.stream) lines.emplace(ex, STDIN_FILENO, connection::max_payload(), say);

  transport_registry registry;
  plugins::register_builtins(registry);
  std::unique_ptr<transport> transport;
  try {
    for (const auto& path : o.transport_plugins) registry.load_plugin(path);
    transport = registry.make(o.transport, ex, o.transport_settings);
  } catch (const system_error& e) {
    fail("--transport " + o.transport + ": " + describe(e));
    co_return exit_bad_options;
  }

  // After the transport, so that a typo in --transport does not leave a new key file behind.
  std::optional<identity> key;
  std::error_code missing;
  const bool made = !std::filesystem::exists(o.key, missing);
  try {
    key = identity::load_or_create(o.key);
  } catch (const system_error& e) {
    fail("--key " + describe(e));
    co_return exit_bad_options;
  }
  // The other side's --expect-key; with --events it is in the registered event instead.
  if (!o.events)
    say("our key is " + to_string(key->key()) + (made ? " (new, saved in " : " (from ") +
        o.key.string() + ")");

  std::string peer = o.connect.value_or("");
  close_reason reason{};
  try {
    const endpoint local = local_endpoint_for(o, *transport);
    // Named, not built inside the co_await: GCC 12 destroys a conditional's temporary twice.
    std::string unresolved = "cannot resolve the brokers' hosts";
    if (o.fallback_brokers.empty()) unresolved = "cannot resolve broker host \"" + o.broker.host + "\"";
    auto brokers = co_await bounded(resolve_brokers(o, local), deadline, signals,
                                    unresolved + " within " + format_seconds(o.timeout));
    std::optional<endpoint> relay_ep;
    if (o.relay)
      relay_ep = co_await bounded(resolve_server(o, local, *o.relay, "relay"), deadline, signals,
                                  "cannot resolve relay host \"" + o.relay->host + "\" within " +
                                      format_seconds(o.timeout));
    session_options so;
    for (const auto& t : o.turn) {
      turn_server ts;
      ts.address = co_await bounded(resolve_server(o, local, t, "TURN server"), deadline, signals,
                                    "cannot resolve TURN server host \"" + t.host + "\" within " + format_seconds(o.timeout));
      ts.kind = o.turn_secret ? turn_server::credentials_kind::rest : turn_server::credentials_kind::long_term;
      ts.user = o.turn_user;
      ts.password = o.turn_secret.value_or(o.turn_password);
      so.turn_servers.push_back(std::move(ts));
    }
    so.broker = brokers[0].main;
    so.broker_other_family = brokers[0].other_family;
    for (std::size_t i = 1; i < brokers.size(); ++i)
      so.fallback_brokers.push_back({brokers[i].main, brokers[i].other_family});
    so.keepalive = o.keepalive;
    so.id = o.id;
    so.local = local;
    so.key = key;
    so.relay = relay_ep;
    so.prediction.enabled = o.port_prediction;
    so.port_mapping.enabled = o.port_mapping;
    so.path_policy.mode = o.path;
    // One --timeout for everything: no single step may take longer than the whole.
    so.request_timeout = std::min(so.request_timeout, o.timeout);
    so.punch_timeout = o.timeout;
    session s{*transport, so};
    s.on_event([&log](const session_event& e) { log.from_session(e); });

    const std::string late = o.connect ? "not connected to \"" + *o.connect + "\" within "
                                       : "no peer connected to \"" + o.id + "\" within ";
    connection c = co_await bounded(get_connected(s, o, deadline, log),
                                    deadline + deadline_grace, signals,
                                    late + format_seconds(o.timeout));
    peer = c.peer();
    if (o.stream) {
      const auto began = clock::now();
      auto r = co_await (settle(pipe_stream(c, o.connect.has_value())) || signals.async_wait(use_awaitable));
      if (r.index() == 1) throw system_error{make_error_code(errc::closed_locally), "interrupted before the stream completed"};
      const auto totals = std::get<0>(std::move(r)).take();
      log.stream_done(peer, totals.sent, totals.received,
                      std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - began));
      co_await c.close();
      reason = close_reason::local;
    } else {
      reason = co_await relay(c, *lines, signals);
    }
    s.close();
  } catch (const system_error& e) {
    fail(describe(e));
    co_return exit_failure;
  } catch (const std::exception& e) {
    fail(e.what());
    co_return exit_failure;
  }
  log.closed(peer, reason == close_reason::local ? "local" : "remote");
  co_return exit_ok;
}

}  // namespace punch::peer_app
