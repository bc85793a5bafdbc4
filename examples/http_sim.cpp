// http_sim: Boost.Beast's HTTP over a punched stream, without a network: a broker on the
// simulated internet and two peers behind different NATs, in one process, on the network's
// virtual clock (seeded: the same run every time). bob serves, alice fetches on one stream:
// a greeting, then 1 MiB on the same stream (keep-alive), then a page that is not there.
// A CTest test (label sim) runs it: it exits 0 only if every answer is what was asked for
// (status, body, the big body's digest), all on one stream, and everything closed cleanly.
//
// docs/streams.md quotes the code between the `// [name]` markers verbatim (a test checks it).
#include "http_peer.hpp"

#include "punch/broker.hpp"
#include "punch/plugins/sim.hpp"
#include "punch/plugins/sim/simulation.hpp"
#include "punch/registry.hpp"
#include "punch/session.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <iostream>
#include <string>

namespace asio = boost::asio;
namespace sim = punch::sim;
namespace http = boost::beast::http;
using asio::ip::make_address;
using namespace asio::experimental::awaitable_operators;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t big = 1024 * 1024 + 17;  // ≥ 1 MiB, and not a multiple of any buffer

// What alice saw, checked after the run.
struct fetched {
  http::response<http::string_body> hello, bytes, missing;
  std::uint16_t stream_id = 0;
  bool same_stream = false;
};

int check(bool ok, const char* what) {
  std::cout << (ok ? "ok:     " : "FAILED: ") << what << "\n";
  return ok ? 0 : 1;
}

}  // namespace

int main() {
  asio::io_context ctx;
  sim::network net{ctx.get_executor(), 15};  // virtual time: sim::run moves it
  const sim::link wan{std::chrono::milliseconds{20}, std::chrono::milliseconds{0}, 0.0};
  auto& home_a = net.add_nat("home-a", net.internet(), make_address("198.51.100.1"),
                             sim::nat_behaviour::port_restricted_cone(), wan);
  auto& home_b = net.add_nat("home-b", net.internet(), make_address("198.51.100.2"),
                             sim::nat_behaviour::restricted_cone(), wan);
  auto& alice_host = net.add_host("alice", home_a.inside(), make_address("192.168.1.10"));
  auto& bob_host = net.add_host("bob", home_b.inside(), make_address("192.168.1.20"));
  auto& broker_host = net.add_host("broker", net.internet(), make_address("203.0.113.10"), wan);

  punch::datagram_socket broker_socket = broker_host.transport().open({{}, 3478});
  std::unique_ptr<punch::registry> registrations = punch::make_memory_registry(1000);
  punch::broker broker{broker_socket, *registrations};
  asio::co_spawn(ctx, broker.run(), asio::detached);

  // Declared before the sessions that report to them (they outlive every handler).
  fetched got;
  std::size_t answered = 0;
  bool finished = false;
  std::exception_ptr failure;

  punch::session_options options;
  options.broker = {make_address("203.0.113.10"), 3478};
  options.clock = &net.virtual_time();
  options.id = "alice";
  punch::session alice{alice_host.transport(), options};
  options.id = "bob";
  punch::session bob{bob_host.transport(), options};

  // [server]
  auto bob_side = [&]() -> asio::awaitable<void> {
    punch::connection c = co_await bob.accept();
    punch::stream s = co_await c.accept_stream();
    answered = co_await http_example::serve(s);
    co_await c.close();
  };
  // [server]
  // [client]
  auto alice_side = [&]() -> asio::awaitable<void> {
    punch::connection c = co_await alice.connect("bob", 20s);
    punch::stream s = co_await c.open_stream();
    got.hello = co_await http_example::fetch(s, "/hello", "bob");
    got.bytes = co_await http_example::fetch(s, "/bytes/" + std::to_string(big), "bob");
    got.missing = co_await http_example::fetch(s, "/nothing", "bob");
    got.stream_id = s.id();
    got.same_stream = s.is_open();  // three answers, and the stream still open
    co_await s.close();
    co_await c.close();
  };
  // [client]

  // Both register first, so that bob is known to the broker when alice asks for him.
  auto both = [&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    co_await (bob_side() && alice_side());
  };
  asio::co_spawn(ctx, both(), [&](std::exception_ptr error) {
    finished = true;
    failure = error;
    alice.close();
    bob.close();
    broker_socket.close();
  });
  const sim::run_result r = sim::run(ctx, net.virtual_time(), [&] { return finished; });
  std::cout << "http_sim: " << sim::to_string(r.outcome) << " after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(r.elapsed).count()
            << " ms of virtual time\n";
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      std::cerr << "http_sim: " << e.what() << "\n";
    }
  }
  // The sessions' own ends run out before the network goes.
  sim::run(ctx, net.virtual_time());

  const std::string expected = http_example::generated_body(big);
  const std::string& digest = got.bytes["X-Body-FNV1a"];
  int failed = check(finished && !failure, "both sides ran to the end without an error");
  failed += check(got.hello.result() == http::status::ok && got.hello.body() == "hello from bob\n",
                  "GET /hello: 200 and the greeting");
  failed += check(got.bytes.result() == http::status::ok && got.bytes.body().size() == big,
                  "GET /bytes/1048593: 200 and every byte");
  failed += check(got.bytes.body() == expected && digest == std::to_string(http_example::fnv1a(expected)),
                  "the big body is the generated one, and its digest matches the server's");
  failed += check(got.missing.result() == http::status::not_found, "GET /nothing: 404");
  failed += check(got.same_stream && answered == 3, "three requests answered on one stream (keep-alive)");
  std::cout << "stream " << got.stream_id << ": " << answered << " answers, " << got.bytes.body().size()
            << " bytes in the big one, digest " << digest << "\n";
  return failed == 0 ? 0 : 1;
}
