// punch-relay: the reference relay. Options → io_context → co_spawn → run; SIGINT or SIGTERM
// stop it cleanly. Exit codes are in options.hpp and --help.
#include "log.hpp"
#include "options.hpp"

#include "server_common.hpp"

#include "punch/plugins/builtin.hpp"
#include "punch/relay.hpp"
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
using namespace punch::relay_app;
using apps::log_line;

// Prints the counters every `interval`, until cancelled.
asio::awaitable<void> print_stats(const relay& r, std::chrono::seconds interval) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    timer.expires_after(interval);
    co_await timer.async_wait(asio::use_awaitable);
    log_line(stats_text(r.stats(), r.allocations()));
  }
}

// Serves until a signal arrives (or the relay fails); the loser of `||` is cancelled.
asio::awaitable<void> serve(relay& r, asio::signal_set& signals, std::chrono::seconds stats_interval) {
  using namespace asio::experimental::awaitable_operators;
  if (stats_interval.count() > 0)
    co_await (r.run() || print_stats(r, stats_interval) || signals.async_wait(asio::use_awaitable));
  else
    co_await (r.run() || signals.async_wait(asio::use_awaitable));
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
    case parse_result::action::error: std::cerr << "punch-relay: " << parsed.text << '\n'; return exit_bad_options;
    case parse_result::action::run: break;
  }
  const relay_app_options& o = parsed.options;

  transport_registry transports;
  plugins::register_builtins(transports);
  for (const auto& path : o.transport_plugins) {
    error_code ec;
    transports.load_plugin(path, ec);
    if (ec) {
      const auto& detail = transports.last_error_detail();
      std::cerr << "punch-relay: --transport-plugin " << path << ": " << (detail.empty() ? ec.message() : detail) << '\n';
      return exit_bad_options;
    }
  }
  asio::io_context ctx{1};
  std::unique_ptr<transport> t;
  try {
    t = transports.make(o.transport, ctx.get_executor(), transport_settings_for(o));
  } catch (const system_error& e) {
    const char* option = e.code() == errc::unknown_transport ? "--transport" : "--transport-option";
    std::cerr << "punch-relay: " << option << ": " << e.what() << '\n';
    return exit_bad_options;
  }
  error_code ec;
  datagram_socket socket = t->open(o.listen, ec);
  if (ec) {
    std::cerr << "punch-relay: cannot listen on " << o.listen << ": " << ec.message() << '\n';
    return exit_failure;
  }
  relay r(socket, make_relay_options(o));
  if (!o.quiet) r.on_event([](const relay_event& e) { log_line(event_text(e)); });
  // Installed before the first line, so a signal sent by whoever read it is handled.
  asio::signal_set signals(ctx, SIGINT, SIGTERM);
  log_line("punch-relay listening on " + text_of(socket.local_endpoint()) + " (transport " + o.transport + ")");

  int code = exit_ok;
  asio::co_spawn(ctx, serve(r, signals, o.stats_interval), [&](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& failure) {
        std::cerr << "punch-relay: " << failure.what() << '\n';
        code = exit_failure;
      }
    }
    ctx.stop();
  });
  ctx.run();
  if (code == exit_ok) log_line("punch-relay stopped");
  return code;
}
