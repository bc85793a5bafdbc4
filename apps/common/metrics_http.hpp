// The --metrics endpoint of punch-broker and punch-relay: an HTTP/1.1 server (Boost.Beast, all
// of it in metrics_http.cpp) on its own thread and io_context, so that nothing it does (slow
// clients, junk, a scrape) takes time from the UDP service. GET /metrics answers 200 with what
// the app's scrape returns; any other path 404, any other method 405, a request that does not
// parse (junk, a header over the limit) 400; a client that is silent past the timeout is
// closed, and connections beyond the limit are closed at once. See docs/deployment.md.
#pragma once

#include "punch/transport.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>

namespace punch::apps {

struct metrics_limits {
  std::size_t max_connections = 16;
  // A request must arrive whole, and its answer leave, within this (slow clients are closed).
  std::chrono::seconds timeout{5};
  std::size_t header_limit = 8192;  // bytes of request line and headers
};

// The body of a 200 answer; runs on the endpoint's thread, and reads the servers' state with
// read_on (never directly: their counters belong to their threads).
using metrics_scrape = std::function<asio::awaitable<std::string>()>;

// `f()` run on `ex` (a server's executor), its result brought back to the calling coroutine.
// `f` and what it refers to must outlive the operation.
template <typename F>
asio::awaitable<std::invoke_result_t<F&>> read_on(asio::any_io_executor ex, F f) {
  using result = std::invoke_result_t<F&>;
  co_return co_await asio::co_spawn(
      ex, [f]() mutable -> asio::awaitable<result> { co_return f(); }, asio::use_awaitable);
}

class metrics_endpoint {
public:
  // Listens at `at` (TCP; port 0: a free one). Throws system_error when it cannot. Serves
  // once start() is called. The servers that `scrape` reads (and their io_contexts) may be
  // destroyed only after the endpoint is stopped; their io_contexts before the endpoint
  // itself, since a read in flight holds work on the endpoint's io_context.
  metrics_endpoint(const endpoint& at, metrics_scrape scrape, metrics_limits limits = {});
  ~metrics_endpoint();
  metrics_endpoint(const metrics_endpoint&) = delete;
  metrics_endpoint& operator=(const metrics_endpoint&) = delete;

  // Where it listens, as "ADDR:PORT" or "[V6]:PORT".
  std::string address() const;
  // Starts the endpoint's thread.
  void start();
  // Stops serving and joins the thread (connections in flight are dropped); idempotent.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace punch::apps
