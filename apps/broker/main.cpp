// punch-broker: the reference broker. Options → io_context → co_spawn → run; SIGINT or
// SIGTERM stop it cleanly. Exit codes are in options.hpp and --help.
#include "log.hpp"
#include "options.hpp"

#include "punch/broker.hpp"
#include "punch/plugins/builtin.hpp"
#include "punch/registry.hpp"
#include "punch/transport_registry.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <csignal>
#include <exception>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

namespace {

using namespace punch;
using namespace punch::broker_app;

// Prints the counters every `interval`, until cancelled.
asio::awaitable<void> print_stats(const broker& b, const registry& reg, std::chrono::seconds interval,
                                  std::string prefix) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    timer.expires_after(interval);
    co_await timer.async_wait(asio::use_awaitable);
    log_line(prefix + stats_text(b.stats(), reg.size()));
  }
}

// Serves until a signal arrives (or the broker fails); the loser of `||` is cancelled.
asio::awaitable<void> serve(broker& b, const registry& reg, asio::signal_set& signals,
                            std::chrono::seconds stats_interval, std::string prefix) {
  using namespace asio::experimental::awaitable_operators;
  if (stats_interval.count() > 0)
    co_await (b.run() || print_stats(b, reg, stats_interval, prefix) || signals.async_wait(asio::use_awaitable));
  else
    co_await (b.run() || signals.async_wait(asio::use_awaitable));
}

std::string text_of(const endpoint& ep) {
  std::ostringstream out;
  out << ep;
  return out.str();
}

// One broker with its own io_context, socket and (but for the first) thread: --threads N.
struct worker {
  asio::io_context ctx{1};
  std::unique_ptr<transport> t;
  datagram_socket socket;
  std::unique_ptr<broker> b;
};

}  // namespace

int main(int argc, char* argv[]) {
  auto parsed = parse_options(argc, argv);
  switch (parsed.what) {
    case parse_result::action::help: std::cout << parsed.text; return exit_ok;
    case parse_result::action::version: std::cout << parsed.text << '\n'; return exit_ok;
    case parse_result::action::error: std::cerr << "punch-broker: " << parsed.text << '\n'; return exit_bad_options;
    case parse_result::action::run: break;
  }
  const broker_app_options& o = parsed.options;

  transport_registry transports;
  plugins::register_builtins(transports);
  for (const auto& path : o.transport_plugins) {
    error_code ec;
    transports.load_plugin(path, ec);
    if (ec) {
      const auto& detail = transports.last_error_detail();
      std::cerr << "punch-broker: --transport-plugin " << path << ": "
                << (detail.empty() ? ec.message() : detail) << '\n';
      return exit_bad_options;
    }
  }
  // Several threads share one registry: Connect finds peers registered through any of them.
  auto reg = o.threads > 1 ? make_shared_registry(o.max_peers) : make_memory_registry(o.max_peers);
  // One NONCE secret for all threads: a peer's next datagram may reach another thread than
  // the one that gave it its NONCE.
  auto settings = make_broker_options(o);
  settings.nonce_secret = random_broker_secret();
  std::vector<std::unique_ptr<worker>> workers;
  for (std::size_t i = 0; i < o.threads; ++i) {
    auto& w = *workers.emplace_back(std::make_unique<worker>());
    try {
      w.t = transports.make(o.transport, w.ctx.get_executor(), transport_settings_for(o));
    } catch (const system_error& e) {
      const char* option = e.code() == errc::unknown_transport ? "--transport" : "--transport-option";
      std::cerr << "punch-broker: " << option << ": " << e.what() << '\n';
      return exit_bad_options;
    }
    // The others join the first one's port (SO_REUSEPORT), also when it was picked by port 0.
    const endpoint at = i == 0 ? o.listen : workers.front()->socket.local_endpoint();
    error_code ec;
    w.socket = w.t->open(at, ec);
    if (ec) {
      std::cerr << "punch-broker: cannot listen on " << at << ": " << ec.message() << '\n';
      return exit_failure;
    }
    w.b = std::make_unique<broker>(w.socket, *reg, settings);
    if (!o.quiet) {
      w.b->on_event([](const broker_event& e) {
        if (auto text = event_text(e); !text.empty()) log_line(text);
      });
    }
  }
  if (o.threads > 1) {
    std::vector<broker*> all;
    for (auto& w : workers) all.push_back(w->b.get());
    for (auto& w : workers) w->b->share_introductions_with(all);
  }
  worker& first = *workers.front();
  // The second port (NAT mapping discovery): a Binding-only broker on the first thread.
  datagram_socket other_socket;
  std::unique_ptr<registry> no_registrations;
  std::unique_ptr<broker> other_broker;
  if (o.other_port != 0) {
    const endpoint at{o.listen.address(), o.other_port};
    error_code ec;
    other_socket = first.t->open(at, ec);
    if (ec) {
      std::cerr << "punch-broker: cannot listen on --other-port " << at << ": " << ec.message() << '\n';
      return exit_failure;
    }
    broker_options binding_only;
    binding_only.binding_only = true;
    binding_only.rate_limit = settings.rate_limit;
    binding_only.rate_burst = settings.rate_burst;
    no_registrations = make_memory_registry(1);
    other_broker = std::make_unique<broker>(other_socket, *no_registrations, binding_only);
    // Announced with the unspecified address when listening on every address: peers then
    // take the address they reached the broker at (docs/protocol.md).
    const endpoint announced{o.listen.address(), other_socket.local_endpoint().port()};
    for (auto& w : workers) w->b->announce_other_address(announced);
  }
  // Installed before the first line, so a signal sent by whoever read it is handled.
  asio::signal_set signals(first.ctx, SIGINT, SIGTERM);
  log_line("punch-broker listening on " + text_of(first.socket.local_endpoint()) + " (transport " + o.transport +
           (o.threads > 1 ? ", " + std::to_string(o.threads) + " threads" : std::string{}) +
           (other_broker ? ", Binding also on " + text_of(other_socket.local_endpoint()) : std::string{}) + ")");

  std::mutex failure_mutex;
  int code = exit_ok;
  auto stop_all = [&] {
    for (auto& w : workers) w->ctx.stop();
  };
  auto on_end = [&](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& failure) {
        std::lock_guard lock(failure_mutex);
        std::cerr << "punch-broker: " << failure.what() << '\n';
        code = exit_failure;
      }
    }
    stop_all();
  };
  asio::co_spawn(first.ctx, serve(*first.b, *reg, signals, o.stats_interval, o.threads > 1 ? "thread 0: " : ""), on_end);
  if (other_broker) asio::co_spawn(first.ctx, other_broker->run(), on_end);
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < workers.size(); ++i) {
    worker& w = *workers[i];
    asio::co_spawn(w.ctx, w.b->run(), on_end);
    if (o.stats_interval.count() > 0)
      asio::co_spawn(w.ctx, print_stats(*w.b, *reg, o.stats_interval, "thread " + std::to_string(i) + ": "), asio::detached);
    threads.emplace_back([&w] { w.ctx.run(); });
  }
  first.ctx.run();
  stop_all();
  for (auto& t : threads) t.join();
  if (code == exit_ok) log_line("punch-broker stopped");
  return code;
}
