// HTTP/1.1 over a punched stream with Boost.Beast: one peer serves GET requests on a stream
// it accepted, the other fetches on a stream it opened. Beast's http::async_read and
// http::async_write take a punch::stream as they take a TCP socket: it is an asio
// AsyncReadStream and AsyncWriteStream. Put to work by http_scenario.hpp, which http_sim.cpp
// (simulated NATs) and http_udp.cpp (loopback) run as tests.
//
// docs/streams.md and docs/writing-a-peer-app.md quote the code between the `// [name]`
// markers verbatim (a test checks it): change the docs and this file together.
#pragma once

#include "punch/connection.hpp"
#include "punch/stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace http_example {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// `size` bytes that both sides can make on their own (a 64-bit LCG's high bytes): the client
// checks what it received against them without any copy travelling another way.
inline std::string generated_body(std::size_t size) {
  std::string body(size, '\0');
  std::uint64_t x = 0x9E3779B97F4A7C15ULL;
  for (auto& c : body) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    c = static_cast<char>(x >> 56);
  }
  return body;
}

// FNV-1a, 64 bits: a digest of a body, sent by the server in a header and checked by the client.
inline std::uint64_t fnv1a(std::string_view bytes) {
  std::uint64_t h = 0xCBF29CE484222325ULL;
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001B3ULL;
  return h;
}

// The answer to one request: GET /hello is a greeting, GET /bytes/<n> is generated_body(n)
// with its digest in X-Body-FNV1a; anything else is a 404.
inline http::response<http::string_body> answer(const http::request<http::string_body>& req) {
  http::response<http::string_body> res{http::status::ok, req.version()};
  res.set(http::field::server, "punch-http-example");
  res.keep_alive(req.keep_alive());
  const std::string_view target = req.target();
  constexpr std::string_view bytes_prefix = "/bytes/";
  if (req.method() == http::verb::get && target == "/hello") {
    res.body() = "hello from " + std::string(req[http::field::host]) + "\n";
  } else if (req.method() == http::verb::get && target.starts_with(bytes_prefix)) {
    res.body() = generated_body(std::stoul(std::string(target.substr(bytes_prefix.size()))));
    res.set("X-Body-FNV1a", std::to_string(fnv1a(res.body())));
  } else {
    res.result(http::status::not_found);
    res.body() = "no such thing here\n";
  }
  res.prepare_payload();
  return res;
}

// [serve]
// Answers the requests that come on `s` until the peer closes it (or asks to close), then
// closes our side. Returns how many requests it answered.
inline asio::awaitable<std::size_t> serve(punch::stream s) {
  beast::flat_buffer buffer;
  std::size_t answered = 0;
  for (;;) {
    http::request<http::string_body> req;
    auto [ec, n] = co_await http::async_read(s, buffer, req, asio::as_tuple(asio::use_awaitable));
    if (ec == http::error::end_of_stream) break;  // the peer closed the stream
    if (ec) throw punch::system_error(ec, "reading a request");
    http::response<http::string_body> res = answer(req);
    co_await http::async_write(s, res, asio::use_awaitable);
    ++answered;
    if (!res.keep_alive()) break;
  }
  co_await s.close();  // completes once the peer has every byte of the last answer
  co_return answered;
}
// [serve]

// [fetch]
// One GET on an open stream: the stream stays open for the next request (keep-alive).
inline asio::awaitable<http::response<http::string_body>> fetch(punch::stream& s, std::string_view target,
                                                                std::string_view host) {
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, host);
  req.keep_alive(true);
  co_await http::async_write(s, req, asio::use_awaitable);

  // A buffer per answer: the server sends nothing before our next request.
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);  // Beast's default is 8 MiB
  co_await http::async_read(s, buffer, parser, asio::use_awaitable);
  co_return parser.release();
}
// [fetch]

}  // namespace http_example
