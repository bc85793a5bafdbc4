// The servers' shared parts of main (see server_main.hpp).
#include "server_main.hpp"

#include "server_common.hpp"

#include "punch/plugins/builtin.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <iostream>
#include <sstream>

namespace punch::apps {

std::optional<int> answer_without_running(const char* app, parse_action what, const std::string& text) {
  switch (what) {
    case parse_action::help: std::cout << text; return exit_ok;
    case parse_action::version: std::cout << text << '\n'; return exit_ok;
    case parse_action::error: std::cerr << app << ": " << text << '\n'; return exit_bad_options;
    case parse_action::run: break;
  }
  return std::nullopt;
}

bool load_transports(transport_registry& transports, const char* app, const server_app_options& o) {
  plugins::register_builtins(transports);
  for (const auto& path : o.transport_plugins) {
    error_code ec;
    transports.load_plugin(path, ec);
    if (ec) {
      const auto& detail = transports.last_error_detail();
      std::cerr << app << ": --transport-plugin " << path << ": " << (detail.empty() ? ec.message() : detail) << '\n';
      return false;
    }
  }
  return true;
}

std::unique_ptr<transport> make_server_transport(transport_registry& transports, const char* app,
                                                 const server_app_options& o, const asio::any_io_executor& ex,
                                                 const transport_options& settings) {
  try {
    return transports.make(o.transport, ex, settings);
  } catch (const system_error& e) {
    const char* option = e.code() == errc::unknown_transport ? "--transport" : "--transport-option";
    std::cerr << app << ": " << option << ": " << e.what() << '\n';
    return nullptr;
  }
}

bool listen_on(transport& t, datagram_socket& socket, const char* app, const endpoint& at, const char* what) {
  error_code ec;
  socket = t.open(at, ec);
  if (!ec) return true;
  std::cerr << app << ": cannot listen on " << what << at << ": " << ec.message() << '\n';
  return false;
}

bool serve_metrics(std::optional<metrics_endpoint>& into, const char* app, const server_app_options& o,
                   metrics_scrape scrape) {
  if (!o.metrics) return true;
  try {
    into.emplace(*o.metrics, std::move(scrape));
  } catch (const system_error& e) {
    std::cerr << app << ": --metrics " << *o.metrics << ": " << e.code().message() << '\n';
    return false;
  }
  into->start();
  log_line(std::string(app) + " metrics on http://" + into->address() + "/metrics");
  return true;
}

asio::awaitable<void> print_stats(std::chrono::seconds interval, std::function<std::string()> line) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    timer.expires_after(interval);
    co_await timer.async_wait(asio::use_awaitable);
    log_line(line());
  }
}

asio::awaitable<void> serve_until_signal(asio::awaitable<void> serve, asio::signal_set& signals,
                                         std::chrono::seconds stats_interval, std::function<std::string()> stats_line) {
  using namespace asio::experimental::awaitable_operators;
  if (stats_interval.count() > 0)
    co_await (std::move(serve) || print_stats(stats_interval, std::move(stats_line)) ||
              signals.async_wait(asio::use_awaitable));
  else
    co_await (std::move(serve) || signals.async_wait(asio::use_awaitable));
}

std::string text_of(const endpoint& ep) {
  std::ostringstream out;
  out << ep;
  return out.str();
}

void server_outcome::finish(std::exception_ptr e) {
  if (e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& failure) {
      std::lock_guard lock(mutex_);
      std::cerr << app_ << ": " << failure.what() << '\n';
      code_ = exit_failure;
    }
  }
  stop_();
}

int server_outcome::exit_code() {
  std::lock_guard lock(mutex_);
  if (code_ == exit_ok) log_line(std::string(app_) + " stopped");
  return code_;
}

}  // namespace punch::apps
