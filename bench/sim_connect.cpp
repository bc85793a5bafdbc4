// punch-bench-sim: how fast connections come up, on the simulated network. A broker on the
// internet and N pairs of peers, each peer behind its own NAT, with the links arranged so that
// the one-way latency between any two parties (peer↔broker, peer↔peer) is L. Every pair
// registers, then alice-i connects to bob-i while bob-i accepts; the bench reports the
// connect() latency (p50/p99/max) against the 4L bound of the protocol (request, answer and
// introduction, checks crossing, responses) and the wall time for all pairs. The broker has
// a second port, so peers measure their NAT's mapping as they register; with one hard side
// and one easy side, pairs connect by port prediction, and the bench counts how many do (its
// success rate) and by which path. With --first-data, each side sends one datagram the moment
// its connect()/accept() returns, and the bench counts those that never arrive (issue 13's
// "no data lost at establishment"); --jitter-ms makes the seed matter on loss-free links, and
// --relay adds a punch-relay for the pairs that cannot punch. With --cluster, bob-i registers at
// a second broker (203.0.113.3, L/2 from everyone too) that shares the registry with the first
// through a memory_cluster_hub: alice-i's Connect is answered from the cluster and the second
// broker sends the Introduce (issue 16's cross-broker Connect, against the same-broker one).
#include "cli.hpp"
#include "percentile.hpp"

#include "punch/broker.hpp"
#include "punch/cluster.hpp"
#include "punch/plugins/sim.hpp"
#include "punch/registry.hpp"
#include "punch/relay.hpp"
#include "punch/session.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/program_options.hpp>

#include <algorithm>
#include <array>
#include <string_view>
#include <cstdlib>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace po = boost::program_options;
using namespace punch;
using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;
using clock_type = std::chrono::steady_clock;

namespace {

struct bench_options {
  int pairs = 1;
  int trials = 20;
  std::chrono::milliseconds latency{20};
  std::string nat_a = "port-restricted-cone", nat_b = "port-restricted-cone";
  std::uint64_t seed = 1;
  std::chrono::milliseconds jitter{0};
  bool first_data = false;
  bool relay = false;
  bool dual_stack = false;  // every home also has IPv6 behind a stateful firewall
  bool cluster = false;     // bob-i at a second broker sharing the registry (memory hub)
};

asio::ip::address v4(std::uint32_t a) { return asio::ip::address_v4(a); }

// One run: `pairs` pairs connect at once. Returns each connect()'s latency; failures count.
struct run_result {
  std::vector<double> connect_ms;
  int failed = 0;
  double wall_ms = 0;
  std::map<std::string, int> paths;  // connections by path kind
  int first_sent = 0, first_lost = 0;  // --first-data: datagrams sent at once, and those lost
};

// The presets, and "symmetric-sequential": a symmetric NAT that hands out ports in sequence.
std::optional<sim::nat_behaviour> nat_of(const std::string& name) {
  if (name == "symmetric-sequential") {
    auto b = sim::nat_behaviour::symmetric();
    b.ports = sim::port_allocation::sequential;
    return b;
  }
  return sim::nat_behaviour::preset(name);
}

run_result run_once(const bench_options& o, std::uint64_t seed) {
  asio::io_context ctx;
  sim::network net(ctx.get_executor(), seed, punch::steady_clock());  // real time: it measures
  const sim::link half{o.latency / 2, o.jitter / 2, 0.0};
  if (std::getenv("PUNCH_SIM_TRACE")) net.on_event([](const sim::event& e) { std::cerr << e << "\n"; });
  auto& broker_host = net.add_host("broker", net.internet(), v4(0xCB007101), half);  // 203.0.113.1
  // A broker serving thousands of peers sizes its socket buffer for them (SO_RCVBUF).
  broker_host.set_receive_queue_limit(static_cast<std::size_t>(o.pairs) * 2 + 256);
  const auto v6 = [](std::uint32_t n) {
    asio::ip::address_v6::bytes_type b{0x20, 0x01, 0x0d, 0xb8};
    for (int i = 0; i < 4; ++i) b[static_cast<std::size_t>(12 + i)] = static_cast<unsigned char>(n >> (24 - 8 * i));
    return asio::ip::address(asio::ip::address_v6(b));
  };
  if (o.dual_stack) net.add_address(broker_host, net.internet(), v6(1));  // 2001:db8::1
  auto broker_socket = broker_host.transport().open({o.dual_stack ? asio::ip::address(asio::ip::address_v6::any()) : asio::ip::address{}, 3478});
  auto reg = make_memory_registry(static_cast<std::size_t>(o.pairs) * 2 + 16);
  broker_options bo;
  bo.max_pending_introductions = static_cast<std::size_t>(o.pairs) * 4 + 64;  // every pair at once, resent
  // The second port answers Bindings only: NAT mapping discovery (OTHER-ADDRESS).
  auto other_socket = broker_host.transport().open({{}, 3480});
  auto other_reg = make_memory_registry(1);
  broker_options other_opts;
  other_opts.binding_only = true;
  broker other(other_socket, *other_reg, other_opts);
  asio::co_spawn(ctx, other.run(), asio::detached);
  bo.other_address = endpoint{v4(0xCB007101), 3480};
  // --cluster: both brokers are members of one hub, each with its own registry.
  memory_cluster_hub hub;
  std::unique_ptr<cluster> member_a, member_b;
  std::optional<datagram_socket> socket_b;
  auto reg_b = make_memory_registry(static_cast<std::size_t>(o.pairs) * 2 + 16);
  std::unique_ptr<broker> broker_b;
  if (o.cluster) {
    member_a = hub.join("a", ctx.get_executor());
    member_b = hub.join("b", ctx.get_executor());
    member_a->start();
    member_b->start();
    bo.cluster = member_a.get();
    socket_b = net.add_host("broker-b", net.internet(), v4(0xCB007103), half).transport().open({{}, 3478});
    auto ob = bo;
    ob.cluster = member_b.get();
    broker_b = std::make_unique<broker>(*socket_b, *reg_b, ob);
    asio::co_spawn(ctx, broker_b->run(), asio::detached);
  }
  broker b(broker_socket, *reg, bo);
  asio::co_spawn(ctx, b.run(), asio::detached);

  std::optional<datagram_socket> relay_socket;
  std::unique_ptr<relay> relay_service;
  if (o.relay) {
    relay_socket = net.add_host("relay", net.internet(), v4(0xCB007102), half).transport().open({{}, 3479});
    relay_service = std::make_unique<relay>(*relay_socket, relay_options{});
    asio::co_spawn(ctx, relay_service->run(), asio::detached);
  }

  session_options so;
  so.broker = {v4(0xCB007101), 3478};
  so.punch_timeout = 10s;
  so.request_timeout = 10s;
  if (o.relay) so.relay = endpoint{v4(0xCB007102), 3479};
  if (o.dual_stack) {
    so.local = endpoint{asio::ip::address_v6::any(), 0};
    so.broker_other_family = endpoint{v6(1), 3478};
  }
  std::vector<std::unique_ptr<session>> sessions;
  // 100.64.0.0/10 holds up to 4M external addresses: one per NAT.
  std::uint32_t next_external = 0x64400001;
  auto add_peer = [&](const std::string& id, const std::string& nat_type) -> session& {
    const auto ext = v4(next_external++);
    if (o.cluster && id.starts_with("bob-")) so.broker = {v4(0xCB007103), 3478};
    else so.broker = {v4(0xCB007101), 3478};
    if (nat_type == "none") {
      sessions.push_back(std::make_unique<session>(net.add_host(id, net.internet(), ext, half).transport(),
                                                   [&] { auto s = so; s.id = id; return s; }()));
    } else {
      auto behaviour = nat_of(nat_type);
      if (!behaviour) throw std::invalid_argument("unknown NAT type " + nat_type);
      auto& nat = net.add_nat("nat-" + id, net.internet(), ext, *behaviour, half);
      auto& h = net.add_host(id, nat.inside(), v4(0x0A000002), {});
      if (o.dual_stack) {
        // IPv6 behind a stateful firewall whose external address is the host's own.
        const auto a6 = v6(next_external);
        auto& fw = net.add_nat("fw-" + id, net.internet(), a6, sim::nat_behaviour::stateful_firewall(), half);
        net.add_address(h, fw.inside(), a6);
      }
      auto s = so;
      s.id = id;
      sessions.push_back(std::make_unique<session>(h.transport(), s));
    }
    return *sessions.back();
  };

  run_result r;
  int running = o.pairs;
  const auto started = clock_type::now();
  for (int i = 0; i < o.pairs; ++i) {
    auto& alice = add_peer("alice-" + std::to_string(i), o.nat_a);
    auto& bob = add_peer("bob-" + std::to_string(i), o.nat_b);
    // NAT discovery runs beside the registration and connect() waits for it: connect() is
    // timed from sessions whose NAT is measured (both refreshes with NAT-MAPPING seen), as it
    // was when register_self() waited for discovery.
    auto settled = std::make_shared<int>(0);
    for (session* s : {&alice, &bob})
      s->on_event([settled](const session_event& e) {
        if (e.what == session_event::kind::refreshed) ++*settled;
      });
    asio::co_spawn(
        ctx,
        [&alice, &bob, &r, &o, i, settled]() -> asio::awaitable<void> {
          co_await (alice.register_self() && bob.register_self());
          for (int k = 0; k < 2000 && *settled < 2; ++k) {
            asio::steady_timer poll(co_await asio::this_coro::executor, 1ms);
            co_await poll.async_wait(asio::use_awaitable);
          }
          static constexpr std::string_view first = "first";
          // connect() alone is timed: accept() on the other side may end a moment later.
          auto timed_connect = [&]() -> asio::awaitable<connection> {
            const auto t0 = clock_type::now();
            auto c = co_await alice.connect("bob-" + std::to_string(i));
            r.connect_ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
            if (o.first_data) co_await c.send(asio::buffer(first.data(), first.size()));
            co_return c;
          };
          auto accept_one = [&]() -> asio::awaitable<connection> {
            auto c = co_await bob.accept();
            if (o.first_data) co_await c.send(asio::buffer(first.data(), first.size()));
            co_return c;
          };
          auto [ca, cb] = co_await (timed_connect() && accept_one());
          if (o.first_data) {
            // Each side's first datagram, or nothing within 2 s: lost.
            auto arrives = [&](connection c) -> asio::awaitable<void> {
              std::array<char, 64> buf{};
              asio::steady_timer t(co_await asio::this_coro::executor, 2s);
              auto got = co_await (c.receive(asio::buffer(buf)) || t.async_wait(asio::use_awaitable));
              ++r.first_sent;
              if (got.index() != 0 || std::string_view(buf.data(), std::get<0>(got)) != first) ++r.first_lost;
            };
            co_await (arrives(ca) && arrives(cb));
          }
          // A probe may hit the hard side's own mapping toward the easy side (a sequential NAT's
          // next port): the hard side then calls the pair reflexive, the easy side predicted.
          const bool predicted = ca.path() == path_kind::predicted || cb.path() == path_kind::predicted;
          std::string path = predicted ? "predicted" : to_string(ca.path());
          if (ca.remote_endpoint().address().is_v6()) path += "/ipv6";
          ++r.paths[path];
        },
        [&r, &running, &ctx, i](std::exception_ptr e) {
          if (e && r.failed++ < 3) {
            try {
              std::rethrow_exception(e);
            } catch (const asio::multiple_exceptions& m) {
              try {
                std::rethrow_exception(m.first_exception());
              } catch (const std::exception& x) {
                std::cerr << "punch-bench-sim: pair " << i << ": " << x.what() << '\n';
              }
            } catch (const std::exception& x) {
              std::cerr << "punch-bench-sim: pair " << i << ": " << x.what() << '\n';
            }
          }
          if (--running == 0) ctx.stop();
        });
  }
  ctx.run_for(120s);
  r.wall_ms = std::chrono::duration<double, std::milli>(clock_type::now() - started).count();
  r.failed += running;  // pairs still running after the limit
  for (auto& s : sessions) s->close();
  if (relay_socket) relay_socket->close();
  broker_socket.close();
  other_socket.close();
  if (socket_b) socket_b->close();
  ctx.restart();
  ctx.run_for(2s);
  return r;
}

}  // namespace

int main(int argc, char* argv[]) {
  using bench::percentile;
  bench_options o;
  std::int64_t latency_ms = o.latency.count();
  std::int64_t jitter_ms = 0;
  po::options_description d("Usage: punch-bench-sim [options]\n\nOptions");
  d.add_options()
      ("pairs", po::value(&o.pairs)->default_value(o.pairs), "pairs connecting at once in one run")
      ("trials", po::value(&o.trials)->default_value(o.trials), "runs, each with its own seed")
      ("latency-ms", po::value(&latency_ms)->default_value(latency_ms),
       "one-way latency L between any two parties, in milliseconds (even)")
      ("nat-a", po::value(&o.nat_a)->default_value(o.nat_a),
       "NAT of each connecting peer: none, full-cone, restricted-cone, port-restricted-cone, symmetric, "
       "symmetric-sequential")
      ("nat-b", po::value(&o.nat_b)->default_value(o.nat_b), "NAT of each accepting peer")
      ("seed", po::value(&o.seed)->default_value(o.seed), "seed of the first trial")
      ("jitter-ms", po::value(&jitter_ms)->default_value(jitter_ms),
       "extra delay per datagram between two parties, drawn from [0, J] ms by the seed")
      ("first-data", po::bool_switch(&o.first_data),
       "each side sends a datagram the moment it is connected; count those never received")
      ("relay", po::bool_switch(&o.relay), "run a punch-relay next to the broker (pairs that cannot punch use it)")
      ("dual-stack", po::bool_switch(&o.dual_stack),
       "every NATed home also has IPv6 behind a stateful firewall; sessions are dual-stack and prefer IPv6")
      ("cluster", po::bool_switch(&o.cluster),
       "each bob registers at a second broker sharing the registry (memory hub): cross-broker Connects")
      ("help,h", "print this help and exit");
  if (auto stop = bench::parse_command_line(argc, argv, d, "punch-bench-sim", "Exit codes: 0 every pair connected (and, with --first-data, no first datagram lost); 1 otherwise; 2 bad options\n")) return *stop;
  if (o.pairs < 1 || o.trials < 1 || latency_ms < 0 || latency_ms > 10000 || jitter_ms < 0 || jitter_ms > 10000) {
    std::cerr << "punch-bench-sim: --pairs and --trials must be ≥ 1, --latency-ms and --jitter-ms in 0..10000\n";
    return 2;
  }
  if (o.cluster && o.dual_stack) {
    std::cerr << "punch-bench-sim: --cluster and --dual-stack do not go together (the second broker has no IPv6)\n";
    return 2;
  }
  o.latency = std::chrono::milliseconds(latency_ms);
  o.jitter = std::chrono::milliseconds(jitter_ms);
  for (const auto& n : {o.nat_a, o.nat_b})
    if (n != "none" && !nat_of(n)) {
      std::cerr << "punch-bench-sim: unknown NAT type '" << n << "' (see --help)\n";
      return 2;
    }

  std::vector<double> all, walls;
  std::map<std::string, int> paths;
  int failed = 0, first_sent = 0, first_lost = 0;
  for (int t = 0; t < o.trials; ++t) {
    auto r = run_once(o, o.seed + static_cast<std::uint64_t>(t));
    all.insert(all.end(), r.connect_ms.begin(), r.connect_ms.end());
    walls.push_back(r.wall_ms);
    failed += r.failed;
    first_sent += r.first_sent;
    first_lost += r.first_lost;
    for (const auto& [k, n] : r.paths) paths[k] += n;
  }
  const double bound = 4.0 * static_cast<double>(o.latency.count()) * 1.1;
  std::printf("pairs %d x trials %d, %s -> %s, one-way latency L = %lld ms%s\n", o.pairs, o.trials,
              o.nat_a.c_str(), o.nat_b.c_str(), static_cast<long long>(o.latency.count()),
              o.cluster ? ", cross-broker (two brokers on a memory hub)" : "");
  std::printf("connect(): p50 %.1f ms  p99 %.1f ms  max %.1f ms  (4L + 10%% = %.1f ms)  failed %d\n",
              percentile(all, 0.5), percentile(all, 0.99), percentile(all, 1.0), bound, failed);
  std::printf("wall time per run (register + connect, all pairs): median %.0f ms  max %.0f ms\n",
              percentile(walls, 0.5), percentile(walls, 1.0));
  const int total = o.pairs * o.trials;
  std::printf("connected %d of %d (%.1f%%); paths:", total - failed, total,
              100.0 * static_cast<double>(total - failed) / static_cast<double>(total));
  for (const auto& [k, n] : paths) std::printf(" %s %d", k.c_str(), n);
  std::printf("\n");
  if (o.first_data)
    std::printf("first datagrams (sent the moment connect()/accept() returned): %d sent, %d lost\n", first_sent,
                first_lost);
  return failed == 0 && first_lost == 0 ? 0 : 1;
}
