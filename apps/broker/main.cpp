// punch-broker: the reference broker. Options → io_context → co_spawn → run; SIGINT or
// SIGTERM stop it cleanly. Exit codes are in options.hpp and --help.
#include "log.hpp"
#include "options.hpp"

#include "punch/broker.hpp"
#include "punch/plugins/builtin.hpp"
#include "punch/registry.hpp"
#include "punch/transport_registry.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <csignal>
#include <exception>
#include <iostream>
#include <sstream>

namespace {

using namespace punch;
using namespace punch::broker_app;

// Prints the counters every `interval`, until cancelled.
asio::awaitable<void> print_stats(const broker& b, const registry& reg, std::chrono::seconds interval) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    timer.expires_after(interval);
    co_await timer.async_wait(asio::use_awaitable);
    log_line(stats_text(b.stats(), reg.size()));
  }
}

// Serves until a signal arrives (or the broker fails); the loser of `||` is cancelled.
asio::awaitable<void> serve(broker& b, const registry& reg, asio::signal_set& signals,
                            std::chrono::seconds stats_interval) {
  using namespace asio::experimental::awaitable_operators;
  if (stats_interval.count() > 0)
    co_await (b.run() || print_stats(b, reg, stats_interval) || signals.async_wait(asio::use_awaitable));
  else
    co_await (b.run() || signals.async_wait(asio::use_awaitable));
}

std::string text_of(const endpoint& ep) {
  std::ostringstream out;
  out << ep;
  return out.str();
}

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

  asio::io_context ctx;
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
  std::unique_ptr<transport> t;
  try {
    t = transports.make(o.transport, ctx.get_executor(), transport_settings_for(o));
  } catch (const system_error& e) {
    const char* option = e.code() == errc::unknown_transport ? "--transport" : "--transport-option";
    std::cerr << "punch-broker: " << option << ": " << e.what() << '\n';
    return exit_bad_options;
  }
  error_code ec;
  datagram_socket socket = t->open(o.listen, ec);
  if (ec) {
    std::cerr << "punch-broker: cannot listen on " << o.listen << ": " << ec.message() << '\n';
    return exit_failure;
  }

  auto reg = make_memory_registry(o.max_peers);
  broker b(socket, *reg, make_broker_options(o));
  if (!o.quiet) {
    b.on_event([](const broker_event& e) {
      if (auto text = event_text(e); !text.empty()) log_line(text);
    });
  }
  // Installed before the first line, so a signal sent by whoever read it is handled.
  asio::signal_set signals(ctx, SIGINT, SIGTERM);
  log_line("punch-broker listening on " + text_of(socket.local_endpoint()) + " (transport " + o.transport + ")");

  int code = exit_ok;
  asio::co_spawn(ctx, serve(b, *reg, signals, o.stats_interval), [&](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& failure) {
      std::cerr << "punch-broker: " << failure.what() << '\n';
      code = exit_failure;
    }
  });
  ctx.run();
  if (code == exit_ok) log_line("punch-broker stopped");
  return code;
}
