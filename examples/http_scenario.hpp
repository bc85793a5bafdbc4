// The HTTP example's scenario, on whatever network the sessions are on: bob accepts alice's
// connection and the stream she opens and serves it (http_peer.hpp); alice fetches a
// greeting, 1 MiB + 17 bytes and a page that is not there, all on that one stream. Shared by
// http_sim.cpp (simulated NATs, virtual time) and http_udp.cpp (real UDP on loopback); check()
// says whether every answer was the one asked for.
//
// docs/streams.md quotes the code between the `// [name]` markers verbatim (a test checks it).
#pragma once

#include "http_peer.hpp"

#include "punch/session.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <chrono>
#include <exception>
#include <iostream>
#include <string>

namespace http_example {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

constexpr std::size_t big = 1024 * 1024 + 17;  // ≥ 1 MiB, and not a multiple of any buffer

// What each side saw, checked after the run.
struct outcome {
  http::response<http::string_body> hello, bytes, missing;
  bool same_stream = false;
  std::size_t answered = 0;
  bool finished = false;
  std::exception_ptr failure;
};

// [server]
inline asio::awaitable<void> bob_side(punch::session& bob, outcome& out) {
  punch::connection c = co_await bob.accept();
  punch::stream s = co_await c.accept_stream();
  out.answered = co_await serve(s);
  co_await c.close();
}
// [server]

// [client]
inline asio::awaitable<void> alice_side(punch::session& alice, outcome& out) {
  punch::connection c = co_await alice.connect("bob", 20s);
  punch::stream s = co_await c.open_stream();
  out.hello = co_await fetch(s, "/hello", "bob");
  out.bytes = co_await fetch(s, "/bytes/" + std::to_string(big), "bob");
  out.missing = co_await fetch(s, "/nothing", "bob");
  out.same_stream = s.is_open();  // three answers, and the stream still open
  co_await s.close();
  co_await c.close();
}
// [client]

// Both register first, so that bob is known to the broker when alice asks for him.
inline asio::awaitable<void> run(punch::session& alice, punch::session& bob, outcome& out) {
  co_await (alice.register_self() && bob.register_self());
  co_await (bob_side(bob, out) && alice_side(alice, out));
}

// Prints each check and returns the process's exit code: 0 if all passed.
inline int check(const outcome& out, const char* program) {
  if (out.failure) {
    try {
      std::rethrow_exception(out.failure);
    } catch (const std::exception& e) {
      std::cerr << program << ": " << e.what() << "\n";
    }
  }
  int failed = 0;
  auto expect = [&](bool ok, const char* what) {
    std::cout << (ok ? "ok:     " : "FAILED: ") << what << "\n";
    failed += ok ? 0 : 1;
  };
  const std::string expected = generated_body(big);
  const std::string digest = out.bytes["X-Body-FNV1a"];
  expect(out.finished && !out.failure, "both sides ran to the end without an error");
  expect(out.hello.result() == http::status::ok && out.hello.body() == "hello from bob\n",
         "GET /hello: 200 and the greeting");
  expect(out.bytes.result() == http::status::ok && out.bytes.body().size() == big,
         "GET /bytes/1048593: 200 and every byte");
  expect(out.bytes.body() == expected && digest == std::to_string(fnv1a(expected)),
         "the big body is the generated one, and its digest matches the server's");
  expect(out.missing.result() == http::status::not_found, "GET /nothing: 404");
  expect(out.same_stream && out.answered == 3, "three requests answered on one stream (keep-alive)");
  std::cout << program << ": " << out.answered << " answers, " << out.bytes.body().size()
            << " bytes in the big one, digest " << digest << "\n";
  return failed == 0 ? 0 : 1;
}

}  // namespace http_example
