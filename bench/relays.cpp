// punch-bench-relays: a relayed punch connection through punch-relay against one through a
// real coturn (started by the bench on loopback, as the TURN tests start it), on loopback:
// connect time (connect() called to both sides connected, direct datagrams between the peers
// dropped so that only the relay can carry them) and datagram throughput (batches of `window`
// datagrams sent, then received, on one thread; what a relay drops is counted, not waited
// for). Rounds alternate punch-relay, coturn,
// punch-relay, coturn …; each round's coturn/punch-relay ratio is printed, then the medians.
#include "cli.hpp"
#include "percentile.hpp"
#include "coturn.hpp"
#include "tap_transport.hpp"

#include "punch/broker.hpp"
#include "punch/connection.hpp"
#include "punch/plugins/udp.hpp"
#include "punch/registry.hpp"
#include "punch/relay.hpp"
#include "punch/session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/program_options.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <vector>

namespace asio = boost::asio;
namespace po = boost::program_options;
using namespace punch;
using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;
using clock_type = std::chrono::steady_clock;

namespace {

struct bench_options {
  int datagrams = 50000;
  int window = 32;
  int rounds = 5;
  std::size_t size = 1000;
  int relay_after_ms = 100;
};

struct round_result {
  double connect_ms = 0;
  double per_second = 0;
  int lost = 0;  // datagrams that never arrived
};

// One round: two fresh sessions ("alice-N", "bob-N") on `tap`, alice with `turn` (if any), both
// with `relay` (if any); registered, alice's TURN outcome awaited, then connected and pumped.
asio::awaitable<round_result> relayed_round(const bench_options& o, transport& tap, std::vector<endpoint>& blocked,
                                            session_options base, int n) {
  round_result out;
  auto ex = co_await asio::this_coro::executor;
  punch::timer turned(ex);
  auto oa = base, ob = base;
  oa.id = "alice-" + std::to_string(n);
  ob.id = "bob-" + std::to_string(n);
  ob.turn_servers.clear();  // one side is enough for TURN; punch-relay needs both
  bool allocated = base.turn_servers.empty();
  session alice(tap, oa), bob(tap, ob);
  alice.on_event([&](const session_event& e) {
    if (e.what == session_event::kind::turn_allocated || e.what == session_event::kind::turn_failed) {
      allocated = e.what == session_event::kind::turn_allocated;
      turned.cancel();
    }
  });
  blocked = {alice.local_endpoint(), bob.local_endpoint()};
  co_await (alice.register_self() && bob.register_self());
  if (!allocated) {
    turned.expires_after(5s);
    co_await turned.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!allocated) throw std::runtime_error("no TURN allocation at coturn");
  }
  const auto asked = clock_type::now();
  auto [ca, cb] = co_await (alice.connect(ob.id) && bob.accept());
  out.connect_ms = std::chrono::duration<double, std::milli>(clock_type::now() - asked).count();
  if (ca.path() != path_kind::relay || cb.path() != path_kind::relay) throw std::runtime_error("the path is not relayed");
  std::vector<std::byte> data(o.size, std::byte{0x5a});
  std::array<std::byte, 2048> in;
  // A relay may drop a datagram (its socket's buffer full): a batch waits 200 ms at most for
  // what is missing, counted as lost, and the rate counts only what arrived.
  punch::timer batch(ex);
  int received = 0;
  const auto started = clock_type::now();
  for (int sent = 0; sent < o.datagrams; sent += o.window) {
    for (int i = 0; i < o.window; ++i) co_await ca.send(asio::buffer(data));
    batch.expires_after(200ms);
    for (int i = 0; i < o.window; ++i) {
      auto got = co_await (cb.receive(asio::buffer(in), asio::as_tuple(asio::use_awaitable)) ||
                           batch.async_wait(asio::as_tuple(asio::use_awaitable)));
      if (got.index() == 1) break;
      ++received;
    }
  }
  out.lost = o.datagrams - received;
  out.per_second = received / std::chrono::duration<double>(clock_type::now() - started).count();
  co_await (ca.close() && cb.close());
  alice.close();
  bob.close();
  co_return out;
}

}  // namespace

int main(int argc, char* argv[]) {
  bench_options o;
  po::options_description d("Usage: punch-bench-relays [options]\n\nOptions");
  d.add_options()
      ("datagrams", po::value(&o.datagrams)->default_value(o.datagrams), "datagrams per round")
      ("window", po::value(&o.window)->default_value(o.window), "datagrams in flight per batch")
      ("rounds", po::value(&o.rounds)->default_value(o.rounds), "rounds of each (punch-relay, coturn alternating)")
      ("size", po::value(&o.size)->default_value(o.size), "payload bytes per datagram (1..1200)")
      ("relay-after", po::value(&o.relay_after_ms)->default_value(o.relay_after_ms),
       "ms without a direct answer before relaying (session_options::relay_after), both relays")
      ("help,h", "print this help and exit");
  if (auto stop = bench::parse_command_line(argc, argv, d, "punch-bench-relays",
                                            "Exit codes: 0 measured (or SKIPPED: no turnserver); 1 a round failed; 2 bad options\n"))
    return *stop;
  if (o.datagrams < 1 || o.window < 1 || o.window > 256 || o.rounds < 1 || o.size < 1 || o.size > 1200 ||
      o.relay_after_ms < 0) {
    std::cerr << "punch-bench-relays: --datagrams, --rounds ≥ 1; --window 1..256; --size 1..1200; --relay-after ≥ 0\n";
    return 2;
  }
  o.datagrams = (o.datagrams + o.window - 1) / o.window * o.window;
  if (auto why = test::coturn::unavailable()) {
    std::cout << "SKIPPED: " << *why << '\n';
    return 0;
  }
  test::coturn coturn({"--lt-cred-mech", "--user", "alice:wonderland"});

  asio::io_context ctx;
  error_code ec;
  auto udp = udp::make_transport(ctx.get_executor(), {}, ec);
  if (ec) {
    std::cerr << "punch-bench-relays: the udp transport: " << ec.message() << '\n';
    return 1;
  }
  const auto loopback = asio::ip::make_address("127.0.0.1");
  auto broker_socket = udp->open(endpoint{loopback, 0});
  auto relay_socket = udp->open(endpoint{loopback, 0});
  auto reg = make_memory_registry(64);
  broker b(broker_socket, *reg);
  // Its per-allocation rate limit (2000 datagrams/s by default, against floods) off: the
  // bench measures forwarding, as coturn's, which has no such limit by default.
  relay_options ro;
  ro.rate_limit = 0;
  relay r(relay_socket, ro);
  asio::co_spawn(ctx, b.run(), asio::detached);
  asio::co_spawn(ctx, r.run(), asio::detached);
  // The peers' own sockets in this round: nothing reaches them directly.
  std::vector<endpoint> blocked;
  test::tap_transport tap(*udp, [&](std::vector<std::byte>&, const endpoint& to) {
    return std::find(blocked.begin(), blocked.end(), to) == blocked.end() ? 1 : 0;
  });
  session_options base;
  base.broker = b.local_endpoint();
  base.local = endpoint{loopback, 0};
  base.relay_after = std::chrono::milliseconds(o.relay_after_ms);
  base.port_mapping.enabled = false;
  auto via_relay = base, via_turn = base;
  via_relay.relay = r.local_endpoint();
  turn_server t;
  t.address = endpoint{loopback, coturn.port()};
  t.user = "alice";
  t.password = "wonderland";
  via_turn.turn_servers = {t};

  std::vector<round_result> relayed, turned;
  int exit_code = 0;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        for (int n = 0; n < o.rounds; ++n) {
          relayed.push_back(co_await relayed_round(o, tap, blocked, via_relay, 2 * n));
          turned.push_back(co_await relayed_round(o, tap, blocked, via_turn, 2 * n + 1));
        }
      },
      [&](std::exception_ptr e) {
        if (bench::report_failure("punch-bench-relays", e)) exit_code = 1;
        broker_socket.close();
        relay_socket.close();
      });
  ctx.run();
  if (exit_code) return exit_code;
  std::printf("%d rounds x %d datagrams of %zu bytes, window %d, loopback, relay_after %d ms; punch-relay in this "
              "process (one thread with both peers, no rate limit), coturn a process of its own\n", o.rounds,
              o.datagrams, o.size, o.window, o.relay_after_ms);
  std::printf("round  punch-relay connect  coturn connect   punch-relay dgram/s  coturn dgram/s  ratio coturn/punch-relay  lost (punch-relay, coturn)\n");
  std::vector<double> rc, tc, rt, tt;
  for (int n = 0; n < o.rounds; ++n) {
    const auto &a = relayed[n], &c = turned[n];
    std::printf("%5d  %16.1f ms  %11.1f ms  %19.0f  %14.0f  %24.2f  %d, %d\n", n + 1, a.connect_ms, c.connect_ms,
                a.per_second, c.per_second, c.per_second / a.per_second, a.lost, c.lost);
    rc.push_back(a.connect_ms);
    tc.push_back(c.connect_ms);
    rt.push_back(a.per_second);
    tt.push_back(c.per_second);
  }
  std::printf("median %15.1f ms  %11.1f ms  %19.0f  %14.0f  %24.2f\n", bench::median(rc), bench::median(tc),
              bench::median(rt), bench::median(tt), bench::median(tt) / bench::median(rt));
  return 0;
}
