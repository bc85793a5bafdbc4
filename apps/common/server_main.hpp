// The parts of main that punch-broker and punch-relay share: answering --help, --version and
// bad options, loading transports and plugins, opening the listening socket, serving until
// SIGINT or SIGTERM with a counters line, and turning the end of serving into an exit code.
// Each app's main.cpp reads options → io_context → co_spawn → run with these.
#pragma once

#include "metrics_http.hpp"
#include "server_options.hpp"

#include "punch/transport.hpp"
#include "punch/transport_registry.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/signal_set.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace punch::apps {

// --help and --version on stdout, a bad option as "app: why" on stderr; the exit code, or
// nullopt when the server is to run.
std::optional<int> answer_without_running(const char* app, parse_action what, const std::string& text);

// Registers the built-in transports and loads --transport-plugin files; false after printing
// "app: --transport-plugin PATH: why".
bool load_transports(transport_registry& transports, const char* app, const server_app_options& o);

// The --transport on `ex` with `settings`; null after printing the option that is wrong.
std::unique_ptr<transport> make_server_transport(transport_registry& transports, const char* app,
                                                 const server_app_options& o, const asio::any_io_executor& ex,
                                                 const transport_options& settings);

// A server's main: parses the command line with `parse`, answers --help, --version and a bad
// option, registers the transports and loads the plugins; then serves with
// `serve(options, transports)`, which returns the exit code.
template <typename Options>
int server_main(int argc, char* argv[], const char* app, parse_result<Options> (*parse)(int, const char* const[]),
                int (*serve)(const Options&, transport_registry&)) {
  const auto parsed = parse(argc, argv);
  if (auto code = answer_without_running(app, parsed.what, parsed.text)) return *code;
  transport_registry transports;
  if (!load_transports(transports, app, parsed.options)) return exit_bad_options;
  return serve(parsed.options, transports);
}

// Opens `socket` at `at`; false after printing "app: cannot listen on <what>AT: why".
bool listen_on(transport& t, datagram_socket& socket, const char* app, const endpoint& at, const char* what = "");

// With --metrics: starts the endpoint in `into`, serving `scrape`, and logs "APP metrics on
// http://ADDR:PORT/metrics"; false after printing "app: --metrics ADDR:PORT: why". Without it:
// true, and nothing.
bool serve_metrics(std::optional<metrics_endpoint>& into, const char* app, const server_app_options& o,
                   metrics_scrape scrape);

// Logs `line()` every `interval`, until cancelled.
asio::awaitable<void> print_stats(std::chrono::seconds interval, std::function<std::string()> line);

// Serves until `serve` ends or a signal arrives on `signals` (the loser of `||` is
// cancelled), logging `stats_line()` every `stats_interval` (0: never).
asio::awaitable<void> serve_until_signal(asio::awaitable<void> serve, asio::signal_set& signals,
                                         std::chrono::seconds stats_interval, std::function<std::string()> stats_line);

// "203.0.113.5:3478", "[::1]:3478".
std::string text_of(const endpoint& ep);

// How serving ended: the completion handler of every co_spawned server prints a failure as
// "app: what" (exit_failure), then calls `stop`. Thread-safe (--threads).
class server_outcome {
public:
  server_outcome(const char* app, std::function<void()> stop) : app_(app), stop_(std::move(stop)) {}

  // For co_spawn; `this` must outlive the operation.
  auto handler() {
    return [this](std::exception_ptr e) { finish(e); };
  }
  // The exit code; logs "app stopped" when serving ended cleanly.
  int exit_code();

private:
  void finish(std::exception_ptr e);

  const char* app_;
  std::function<void()> stop_;
  std::mutex mutex_;
  int code_ = exit_ok;
};

}  // namespace punch::apps
