// punch-bench-failover: how long a peer stays registered nowhere when its broker dies, on the
// simulated network's virtual time (exact and repeatable, so the session's real periods cost
// no real time). Two brokers, each with its second port; alice and bob behind port-restricted
// NATs, given both brokers, register at the first and connect. The first broker is killed at a
// moment drawn by the seed from one keepalive period (the phase that matters: how long until
// the next refresh finds it silent); the bench measures the virtual time from the kill to
// each peer's broker_changed, against the target "failover ≤ keepalive + request timeout",
// and checks that the connection still delivers a datagram each way afterwards.
#include "cli.hpp"
#include "percentile.hpp"

#include "punch/broker.hpp"
#include "punch/plugins/sim.hpp"
#include "punch/registry.hpp"
#include "punch/session.hpp"

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
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace po = boost::program_options;
using namespace punch;
using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

struct bench_options {
  int trials = 20;
  std::chrono::milliseconds keepalive{15s};
  std::chrono::milliseconds request_timeout{5s};
  std::chrono::milliseconds latency{20};
  std::uint64_t seed = 1;
};

asio::ip::address v4(const char* a) { return asio::ip::make_address(a); }

// One punch-broker process: its port 3478 and its second port 3480 (NAT discovery).
struct broker_process {
  std::vector<datagram_socket> sockets;
  std::vector<std::unique_ptr<registry>> registries;
  std::vector<std::unique_ptr<broker>> services;

  broker_process(asio::io_context& ctx, sim::host& h, punch::clock& time) {
    broker_options second;
    second.binding_only = true;
    second.clock = &time;
    broker_options main;
    main.clock = &time;
    main.other_address = endpoint{h.address(), 3480};
    sockets.reserve(2);
    for (auto [port, o] : {std::pair{3480, &second}, std::pair{3478, &main}}) {
      sockets.push_back(h.transport().open({{}, static_cast<std::uint16_t>(port)}));
      registries.push_back(make_memory_registry(16));
      services.push_back(std::make_unique<broker>(sockets.back(), *registries.back(), *o));
      asio::co_spawn(ctx, services.back()->run(), asio::detached);
    }
  }
  void kill() {
    for (auto& s : sockets) s.close();
  }
};

struct trial_result {
  std::vector<double> failover_ms;  // per peer; a peer that never moved is missing
  bool delivered = false;           // a datagram each way over the old connection, after both moved
  std::string error;
};

trial_result run_once(const bench_options& o, std::uint64_t seed) {
  asio::io_context ctx;
  sim::network net(ctx.get_executor(), seed);  // virtual time
  const sim::link half{o.latency / 2, {}, 0.0};
  broker_process b1(ctx, net.add_host("broker1", net.internet(), v4("203.0.113.1"), half), net.clock());
  broker_process b2(ctx, net.add_host("broker2", net.internet(), v4("203.0.113.3"), half), net.clock());
  session_options so;
  so.broker = {v4("203.0.113.1"), 3478};
  so.fallback_brokers = {broker_address{{v4("203.0.113.3"), 3478}, std::nullopt}};
  so.keepalive = o.keepalive;
  so.request_timeout = o.request_timeout;
  so.clock = &net.clock();
  std::vector<std::unique_ptr<session>> sessions;
  for (const char* id : {"alice", "bob"}) {
    auto& nat = net.add_nat(std::string("nat-") + id, net.internet(), v4(id[0] == 'a' ? "198.51.100.1" : "198.51.100.2"),
                            sim::nat_behaviour::port_restricted_cone(), half);
    auto s = so;
    s.id = id;
    sessions.push_back(std::make_unique<session>(net.add_host(id, nat.inside(), v4("10.0.0.2"), {}).transport(), s));
  }
  session& alice = *sessions[0];
  session& bob = *sessions[1];

  trial_result r;
  std::optional<punch::clock::time_point> killed_at;
  std::array<std::optional<punch::clock::time_point>, 2> moved_at;
  for (std::size_t i = 0; i < 2; ++i)
    sessions[i]->on_event([&, i](const session_event& e) {
      if (e.what == session_event::kind::broker_changed && !moved_at[i]) moved_at[i] = net.clock().now();
    });
  // The kill's phase within one keepalive period, drawn by the seed.
  std::mt19937_64 rng(seed);
  const auto phase = std::chrono::milliseconds(
      std::uniform_int_distribution<std::int64_t>(0, o.keepalive.count() - 1)(rng));
  bool done = false;
  // A named lambda: its captures must outlive the coroutine, which runs after co_spawn returns.
  auto scenario = [&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
    punch::timer t(co_await asio::this_coro::executor, net.clock(), phase);
    co_await t.async_wait(asio::use_awaitable);
    b1.kill();
    killed_at = net.clock().now();
    // Both moved, or the target is long past.
    const auto give_up = *killed_at + 2 * (o.keepalive + o.request_timeout);
    while ((!moved_at[0] || !moved_at[1]) && net.clock().now() < give_up) {
      t.expires_after(10ms);
      co_await t.async_wait(asio::use_awaitable);
    }
    std::array<char, 64> buf{};
    co_await ca.send(asio::buffer("after", 5));
    t.expires_after(2s);
    auto got_b = co_await (cb.receive(asio::buffer(buf)) || t.async_wait(asio::use_awaitable));
    co_await cb.send(asio::buffer("after", 5));
    t.expires_after(2s);
    auto got_a = co_await (ca.receive(asio::buffer(buf)) || t.async_wait(asio::use_awaitable));
    r.delivered = got_b.index() == 0 && got_a.index() == 0;
  };
  asio::co_spawn(
      ctx, scenario(),
      [&](std::exception_ptr e) {
        if (e) try {
            std::rethrow_exception(e);
          } catch (const std::exception& x) {
            r.error = x.what();
          }
        done = true;
      });
  sim::run(ctx, net.virtual_time(), [&] { return done; }, {.time = std::chrono::hours(1)});
  for (const auto& m : moved_at)
    if (m && killed_at) r.failover_ms.push_back(std::chrono::duration<double, std::milli>(*m - *killed_at).count());
  for (auto& s : sessions) s->close();
  b1.kill();
  b2.kill();
  ctx.restart();
  sim::run(ctx, net.virtual_time(), {}, {.time = 5s});
  return r;
}

}  // namespace

int main(int argc, char* argv[]) {
  using bench::percentile;
  bench_options o;
  std::int64_t keepalive_ms = o.keepalive.count(), request_timeout_ms = o.request_timeout.count();
  std::int64_t latency_ms = o.latency.count();
  po::options_description d("Usage: punch-bench-failover [options]\n\nOptions");
  d.add_options()
      ("trials", po::value(&o.trials)->default_value(o.trials), "runs, each with its own seed and moment of the kill")
      ("keepalive-ms", po::value(&keepalive_ms)->default_value(keepalive_ms), "session_options::keepalive")
      ("request-timeout-ms", po::value(&request_timeout_ms)->default_value(request_timeout_ms),
       "session_options::request_timeout")
      ("latency-ms", po::value(&latency_ms)->default_value(latency_ms), "one-way latency between any two parties")
      ("seed", po::value(&o.seed)->default_value(o.seed), "seed of the first trial")
      ("help,h", "print this help and exit");
  if (auto stop = bench::parse_command_line(argc, argv, d, "punch-bench-failover",
                                            "Exit codes: 0 every peer moved within keepalive + request timeout and its "
                                            "connection delivered afterwards; 1 otherwise; 2 bad options\n"))
    return *stop;
  if (o.trials < 1 || keepalive_ms < 1 || request_timeout_ms < 1 || latency_ms < 0 || latency_ms > 10000) {
    std::cerr << "punch-bench-failover: --trials, --keepalive-ms and --request-timeout-ms must be ≥ 1, --latency-ms "
                 "in 0..10000\n";
    return 2;
  }
  o.keepalive = std::chrono::milliseconds(keepalive_ms);
  o.request_timeout = std::chrono::milliseconds(request_timeout_ms);
  o.latency = std::chrono::milliseconds(latency_ms);

  std::vector<double> all;
  int missing = 0, undelivered = 0;
  for (int t = 0; t < o.trials; ++t) {
    auto r = run_once(o, o.seed + static_cast<std::uint64_t>(t));
    if (!r.error.empty()) std::cerr << "punch-bench-failover: trial " << t << ": " << r.error << '\n';
    missing += 2 - static_cast<int>(r.failover_ms.size());
    undelivered += !r.delivered;
    all.insert(all.end(), r.failover_ms.begin(), r.failover_ms.end());
  }
  const double bound = static_cast<double>((o.keepalive + o.request_timeout).count());
  const auto over = std::count_if(all.begin(), all.end(), [&](double ms) { return ms > bound; });
  std::printf("trials %d, keepalive %lld ms, request timeout %lld ms, one-way latency %lld ms (virtual time)\n",
              o.trials, static_cast<long long>(o.keepalive.count()), static_cast<long long>(o.request_timeout.count()),
              static_cast<long long>(o.latency.count()));
  std::printf("failover (broker killed -> registered at the next): p50 %.0f ms  max %.0f ms  "
              "(target: keepalive + request timeout = %.0f ms)  over %ld, never moved %d\n",
              percentile(all, 0.5), percentile(all, 1.0), bound, static_cast<long>(over), missing);
  std::printf("connections that delivered both ways after the move: %d of %d\n", o.trials - undelivered, o.trials);
  return over == 0 && missing == 0 && undelivered == 0 ? 0 : 1;
}
