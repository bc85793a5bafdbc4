// The --metrics HTTP endpoint (see metrics_http.hpp). The only file that includes Beast: its
// templates are instantiated once, here.
#include "metrics_http.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <sstream>
#include <thread>

namespace punch::apps {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::as_tuple;
using asio::use_awaitable;

// The media type of the text exposition format, version 0.0.4.
constexpr const char* exposition_type = "text/plain; version=0.0.4; charset=utf-8";

http::response<http::string_body> answer(http::status status, std::string body, unsigned version) {
  http::response<http::string_body> res{status, version};
  res.set(http::field::content_type, status == http::status::ok ? exposition_type : "text/plain; charset=utf-8");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

// The path without a query ("/metrics?x=1" is /metrics, as Prometheus' own servers take it).
std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

// A read that failed because the client went or was too slow: close without an answer. Other
// failures are the request's (it does not parse, or is too large): answer 400.
bool client_gone(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == http::error::partial_message || ec == beast::error::timeout ||
         ec.category() != http::make_error_code(http::error::bad_target).category();
}

}  // namespace

struct metrics_endpoint::impl {
  impl(const endpoint& at, metrics_scrape s, metrics_limits l)
      : scrape(std::move(s)), limits(l), acceptor(ctx) {
    const tcp::endpoint ep{at.address(), at.port()};
    acceptor.open(ep.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    if (ep.address().is_v6()) acceptor.set_option(asio::ip::v6_only(false));
    acceptor.bind(ep);
    acceptor.listen();
  }

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(tcp::socket socket);
  asio::awaitable<http::response<http::string_body>> respond(const http::request<http::empty_body>& req);

  asio::io_context ctx{1};
  metrics_scrape scrape;
  metrics_limits limits;
  tcp::acceptor acceptor;
  std::size_t connections = 0;  // on the endpoint's thread only
  std::thread thread;
};

asio::awaitable<void> metrics_endpoint::impl::accept_loop() {
  asio::steady_timer pause(ctx);
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(as_tuple(use_awaitable));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // Out of descriptors, most likely: try again a little later instead of spinning.
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(as_tuple(use_awaitable));
      continue;
    }
    // Over the limit: closed at once, so that a flood of idle clients costs a descriptor each
    // only for a moment and never delays the connections already served.
    if (connections >= limits.max_connections) continue;
    ++connections;
    asio::co_spawn(ctx, serve(std::move(socket)), [this](std::exception_ptr) { --connections; });
  }
}

asio::awaitable<http::response<http::string_body>> metrics_endpoint::impl::respond(
    const http::request<http::empty_body>& req) {
  if (req.method() != http::verb::get) {
    auto res = answer(http::status::method_not_allowed, "only GET\n", req.version());
    res.set(http::field::allow, "GET");
    co_return res;
  }
  if (path_of(req.target()) != "/metrics")
    co_return answer(http::status::not_found, "not found: the metrics are at /metrics\n", req.version());
  std::string body;
  try {
    body = co_await scrape();
  } catch (const std::exception& e) {
    co_return answer(http::status::internal_server_error, std::string(e.what()) + "\n", req.version());
  }
  co_return answer(http::status::ok, std::move(body), req.version());
}

asio::awaitable<void> metrics_endpoint::impl::serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  // The buffer cannot outgrow the header limit (and a little for pipelined bytes).
  beast::flat_buffer buffer(limits.header_limit + 1024);
  for (;;) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.header_limit));
    stream.expires_after(limits.timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, as_tuple(use_awaitable));
    if (ec && client_gone(ec)) break;
    http::response<http::string_body> res;
    if (ec) {
      res = answer(http::status::bad_request, "bad request: " + ec.message() + "\n", 11);
      res.keep_alive(false);
    } else {
      const auto& req = parser.get();
      res = co_await respond(req);
      res.keep_alive(req.keep_alive());
    }
    stream.expires_after(limits.timeout);
    auto [wec, written] = co_await http::async_write(stream, res, as_tuple(use_awaitable));
    if (wec || !res.keep_alive()) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

metrics_endpoint::metrics_endpoint(const endpoint& at, metrics_scrape scrape, metrics_limits limits)
    : impl_(std::make_unique<impl>(at, std::move(scrape), limits)) {}

metrics_endpoint::~metrics_endpoint() { stop(); }

std::string metrics_endpoint::address() const {
  std::ostringstream out;
  out << impl_->acceptor.local_endpoint();
  return out.str();
}

void metrics_endpoint::start() {
  asio::co_spawn(impl_->ctx, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([this] { impl_->ctx.run(); });
}

void metrics_endpoint::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->ctx.stop();
  impl_->thread.join();
}

}  // namespace punch::apps
