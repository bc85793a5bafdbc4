// punch-bench: drives punch-broker, a raw echo server (the machine's ceiling) and optionally
// coturn with the same load, runs interleaved (A B A B ...), and reports medians; then fills
// a fresh broker with registrations and reads its memory. With --redis, also two brokers
// sharing a registry in a redis-server of its own: refreshes and Lookups at a Redis-backed
// broker, and Lookup and Connect of peers held by the other broker ("cross") against peers
// held by the same one ("same"). With register-spoofed, a spoofed flood and an honest peer
// registering through it (spoofed_flood.hpp, honest_client.hpp). With --kinds relay,
// punch-relay's forwarding instead (relay_bench.cpp). See docs/performance.md.
#include "cookie_report.hpp"
#include "relay_bench.hpp"
#include "relay_workloads.hpp"
#include "report.hpp"
#include "servers.hpp"
#include "spoofed_flood.hpp"
#include "workloads.hpp"

#include <boost/program_options.hpp>

#include <unistd.h>


#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

namespace {

using namespace punch::bench;
namespace po = boost::program_options;

struct bench_options {
  std::string broker = PUNCH_BENCH_BROKER;
  std::string echo = PUNCH_BENCH_ECHO;
  std::string coturn;  // empty: not measured
  std::string redis;   // redis-server; empty: no brokers on Redis
  std::vector<std::string> broker_args;
  std::vector<std::string> alt_broker_args;  // non-empty: a second broker, "alt"
  std::string alt_broker;                    // non-empty: "alt" runs this punch-broker
  int rounds = 5;
  std::chrono::milliseconds duration{1000};
  load_options load;
  std::vector<request_kind> kinds{std::begin(all_kinds), std::end(all_kinds)};
  std::uint32_t peers = 1'000'000;
  int steps = 8;
  int server_cpu = 0, client_cpu = 1;
  std::string csv, memory_csv;
  bool smoke = false;
  // --kinds relay: relay_bench.cpp runs instead, with these.
  bool relay = false;
  relay_bench_options relaying;
};

std::optional<bench_options> parse(int argc, char* argv[]) {
  bench_options o;
  std::string kinds, payloads;
  long duration_ms = 1000;
  o.relaying.relay = PUNCH_BENCH_RELAY;
  po::options_description d{"Options"};
  d.add_options()
    ("broker", po::value(&o.broker)->default_value(o.broker), "punch-broker to measure")
    ("echo", po::value(&o.echo)->default_value(o.echo), "punch-echo, the ceiling")
    ("broker-arg", po::value(&o.broker_args)->composing(), "one more argument for punch-broker; repeatable "
                                                           "(--broker-arg=--transport-option=batch=1)")
    ("alt-broker-arg", po::value(&o.alt_broker_args)->composing(),
     "also measure a second punch-broker (\"alt\") with this extra argument; repeatable")
    ("alt-broker", po::value(&o.alt_broker)->value_name("PATH"),
     "also measure this punch-broker (\"alt\"; another build, for a before/after in one run)")
    ("coturn", po::value(&o.coturn)->value_name("PATH"), "also measure this STUN server (turnserver) by Binding")
    ("redis", po::value(&o.redis)->value_name("PATH"),
     "also start this redis-server and two punch-brokers sharing it (--redis, --name a/b): \"redis\" (broker a, "
     "every kind), \"same\" and \"cross\" (Lookup, Connect from sockets at a of peers held at a, at b)")
    ("rounds", po::value(&o.rounds)->default_value(o.rounds), "interleaved rounds; medians are reported")
    ("duration-ms", po::value(&duration_ms)->default_value(duration_ms), "length of one run")
    ("sockets", po::value(&o.load.sockets)->default_value(o.load.sockets), "client sockets")
    ("window", po::value(&o.load.window)->default_value(o.load.window), "requests in flight per socket (≤ 64)")
    ("kinds", po::value(&kinds)->default_value("binding,register,register-signed,lookup,connect"),
     "request kinds to run (register: refreshes with the broker's credential; register-signed: signed Registers; "
     "register-spoofed: a flood of timestamped Registers that never answers the challenge, with an honest peer "
     "registering meanwhile; relay, alone: datagrams through punch-relay, the echo and coturn)")
    ("pairs", po::value(&o.relaying.pairs)->default_value(o.relaying.pairs), "relay: pairs of allocations (two sockets each)")
    ("payloads", po::value(&payloads)->default_value("100,1200"), "relay: datagram payload sizes (16..1200 bytes)")
    ("allocations", po::value(&o.relaying.allocations)->default_value(o.relaying.allocations),
     "relay: pairs for the memory curve (0: skip it)")
    ("relay", po::value(&o.relaying.relay)->default_value(o.relaying.relay), "relay: punch-relay to measure")
    ("alt-relay", po::value(&o.relaying.alt_relay)->value_name("PATH"),
     "relay: also measure this punch-relay (\"alt\"; another build, for a before/after in one run)")
    ("peers", po::value(&o.peers)->default_value(o.peers), "registrations for the memory curve (0: skip it)")
    ("steps", po::value(&o.steps)->default_value(o.steps), "points on the memory curve")
    ("server-cpu", po::value(&o.server_cpu)->default_value(o.server_cpu), "CPU every server is pinned to (-1: none)")
    ("client-cpu", po::value(&o.client_cpu)->default_value(o.client_cpu), "CPU the load runs on (-1: none)")
    ("csv", po::value(&o.csv)->value_name("FILE"), "write every run and the medians as CSV")
    ("memory-csv", po::value(&o.memory_csv)->value_name("FILE"), "write the memory curve as CSV (for gnuplot)")
    ("smoke", po::bool_switch(&o.smoke), "a few seconds: one short round, 2000 peers; fails unless every "
                                         "run got answers, no errors and lost under 20%")
    ("help,h", "print this help and exit");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, d), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "punch-bench: " << e.what() << '\n';
    return std::nullopt;
  }
  if (vm.count("help")) {
    std::cout << "Usage: punch-bench [options]\n\n"
                 "Measures punch-broker against a raw UDP echo server (recvmmsg/sendmmsg, the\n"
                 "ceiling of a one-core request/response server) and optionally coturn, all pinned\n"
                 "to one CPU, with Binding, Register (refreshes with the broker's credential, and\n"
                 "signed), Lookup and Connect requests from many sockets;\n"
                 "then registers --peers ids in a fresh broker and reads its RSS (VmRSS, VmHWM).\n\n"
              << d;
    std::exit(0);
  }
  o.duration = std::chrono::milliseconds(duration_ms);
  o.kinds.clear();
  for (std::size_t at = 0; at <= kinds.size();) {
    const auto comma = std::min(kinds.find(',', at), kinds.size());
    const std::string k = kinds.substr(at, comma - at);
    bool known = false;
    if (k == name_of(request_kind::relay)) o.relay = known = true;
    for (auto kind : all_kinds)
      if (k == name_of(kind)) o.kinds.push_back(kind), known = true;
    if (!known) {
      std::cerr << "punch-bench: --kinds: unknown kind \"" << k << "\"\n";
      return std::nullopt;
    }
    at = comma + 1;
  }
  if (o.relay && !o.kinds.empty()) {
    std::cerr << "punch-bench: --kinds: relay runs alone\n";
    return std::nullopt;
  }
  if (o.relay) {
    auto& r = o.relaying;
    if (r.pairs < 1 || r.pairs > 100) {  // coturn gets 200 relay ports
      std::cerr << "punch-bench: --pairs: 1..100\n";
      return std::nullopt;
    }
    r.payloads.clear();
    std::istringstream sizes(payloads);
    for (std::string size; std::getline(sizes, size, ',');) {
      const auto n = std::strtoul(size.c_str(), nullptr, 10);
      if (n < relay_header_size || n > 1200) {
        std::cerr << "punch-bench: --payloads: " << size << " is not 16..1200\n";
        return std::nullopt;
      }
      r.payloads.push_back(n);
    }
    r.echo = o.echo;
    r.coturn = o.coturn;
    r.rounds = vm.count("rounds") && !vm["rounds"].defaulted() ? o.rounds : 6;
    r.duration = o.duration;
    r.load = o.load;
    if (!vm["steps"].defaulted()) r.steps = o.steps;
    r.server_cpu = o.server_cpu;
    r.client_cpu = o.client_cpu;
    r.csv = o.csv;
    r.memory_csv = o.memory_csv;
    r.smoke = o.smoke;
    if (o.smoke) {  // coturn stays, if given: its set-up is what could break
      r.rounds = 1;
      r.duration = std::chrono::milliseconds(300);
      r.pairs = std::min<std::size_t>(r.pairs, 4);
      r.allocations = std::min<std::uint32_t>(r.allocations, 2000);
      r.steps = 2;
      r.load.window = std::min<std::size_t>(r.load.window, 4);
    }
    return o;
  }
  if (o.smoke) {
    o.rounds = 1;
    o.duration = std::chrono::milliseconds(300);
    o.peers = std::min<std::uint32_t>(o.peers, 2000);
    o.steps = 2;
    o.load.window = std::min<std::size_t>(o.load.window, 4);  // far from any socket buffer's limit
    o.coturn.clear();
  }
  if (!o.redis.empty() && ::access(o.redis.c_str(), X_OK) != 0) {
    // CI registers the smoke test wherever punch-broker has Redis support; the server may be absent.
    if (!o.smoke) {
      std::cerr << "punch-bench: --redis: no redis-server at " << o.redis << '\n';
      return std::nullopt;
    }
    std::cout << "SKIPPED: no redis-server at " << o.redis << '\n';
    std::exit(0);
  }
  return o;
}

struct target {
  std::string name;
  udp_endpoint at;
  bool echo = false;
  bool stun_only = false;  // coturn: Binding only
  pid_t pid = -1;
  // Paired (Lookup and Connect only): requests from sockets at `at` for peers held at `held_at`.
  std::optional<udp_endpoint> held_at;
  pid_t holder_pid = -1;  // the other broker, when held_at is not `at`
};

// Where a run's sockets send: all to the target, or, paired, half to it and half to the
// broker that holds their peers.
std::vector<udp_endpoint> socket_servers(const target& t, std::size_t sockets) {
  std::vector<udp_endpoint> at(sockets, t.at);
  if (t.held_at) at.insert(at.end(), sockets, *t.held_at);
  return at;
}

std::unique_ptr<server_process> start(const std::string& name, std::vector<std::string> argv, int cpu,
                                      asio::io_context& ctx, const udp_endpoint& at) {
  auto p = std::make_unique<server_process>(name, std::move(argv), cpu);
  p->wait_ready(ctx, at, std::chrono::seconds(10));
  return p;
}

std::vector<memory_point> memory_curve(const bench_options& o, asio::io_context& ctx) {
  const udp_endpoint at(asio::ip::address_v4::loopback(), free_udp_port());
  const std::string listen = "127.0.0.1:" + std::to_string(at.port());
  std::vector<std::string> argv{o.broker, "--listen", listen, "--quiet", "--lifetime-max", "3600",
                                "--max-peers", std::to_string(o.peers + o.peers / 8 + 16), "--rate-limit", "0"};
  argv.insert(argv.end(), o.broker_args.begin(), o.broker_args.end());
  auto broker = start("punch-broker", std::move(argv), o.server_cpu, ctx, at);
  std::vector<memory_point> points;
  auto m = memory_of(broker->pid());
  points.push_back({0, m.rss_kib, m.hwm_kib, 0});
  load l(ctx, at, o.load);
  credentials creds(l.sockets(), false);
  register_sockets setup("mem", l.sockets(), creds);  // every socket gets its NONCE
  l.run(setup, std::chrono::seconds(5));
  if (!setup.finished() || setup.failed) throw std::runtime_error("memory: cannot register the sockets");
  std::uint32_t done = 0;
  for (int step = 1; step <= o.steps; ++step) {
    const auto last = static_cast<std::uint32_t>(static_cast<std::uint64_t>(o.peers) * step / o.steps);
    bulk_register w(done, last, creds);
    const auto r = l.run(w, std::chrono::minutes(10));
    done = last;
    m = memory_of(broker->pid());
    points.push_back({done, m.rss_kib, m.hwm_kib, w.failed + (w.finished() ? 0 : 1)});
    std::cerr << "  memory: " << done << " peers, VmRSS " << m.rss_kib << " KiB, VmHWM " << m.hwm_kib
              << " KiB (" << static_cast<long>(r.rate()) << " registrations/s)\n";
  }
  return points;
}

}  // namespace

int main(int argc, char* argv[]) {
  const auto parsed = parse(argc, argv);
  if (!parsed) return 2;
  const bench_options& o = *parsed;
  if (o.relay) return run_relay_bench(o.relaying);
  try {
    pin_to_cpu(o.client_cpu);
    asio::io_context ctx;
    std::vector<target> targets;
    std::vector<std::unique_ptr<server_process>> servers;
    auto add = [&](const std::string& name, std::vector<std::string> argv, bool echo, bool stun_only,
                   std::uint16_t port) {
      const udp_endpoint at(asio::ip::address_v4::loopback(), port);
      servers.push_back(start(name, std::move(argv), o.server_cpu, ctx, at));
      targets.push_back({name, at, echo, stun_only, servers.back()->pid(), std::nullopt, -1});
    };
    auto port = free_udp_port();
    // No rate limit: the whole load comes from one address (127.0.0.1).
    std::vector<std::string> broker_argv{o.broker, "--listen", "127.0.0.1:" + std::to_string(port), "--quiet",
                                         "--rate-limit", "0"};
    broker_argv.insert(broker_argv.end(), o.broker_args.begin(), o.broker_args.end());
    add("broker", broker_argv, false, false, port);
    const auto redis_broker_argv = broker_argv;  // the alt's arguments are added to broker_argv
    if (!o.alt_broker_args.empty() || !o.alt_broker.empty()) {
      port = free_udp_port();
      if (!o.alt_broker.empty()) broker_argv[0] = o.alt_broker;
      broker_argv[2] = "127.0.0.1:" + std::to_string(port);
      broker_argv.insert(broker_argv.end(), o.alt_broker_args.begin(), o.alt_broker_args.end());
      add("alt", std::move(broker_argv), false, false, port);
    }
    std::unique_ptr<redis_process> redis;
    if (!o.redis.empty()) {
      redis = std::make_unique<redis_process>(o.redis, o.server_cpu);
      auto member = [&](const char* target_name, const char* name) {
        port = free_udp_port();
        auto argv = redis_broker_argv;
        argv[2] = "127.0.0.1:" + std::to_string(port);
        argv.insert(argv.end(), {"--redis", redis->url(), "--name", name});
        add(target_name, std::move(argv), false, false, port);
        return targets.back();
      };
      const target a = member("redis", "a");
      const target b = member("redis-b", "b");
      targets.pop_back();  // broker b is measured only as the holder of "cross"'s peers
      targets.push_back({"same", a.at, false, false, a.pid, a.at, -1});
      targets.push_back({"cross", a.at, false, false, a.pid, b.at, b.pid});
    }
    port = free_udp_port();
    add("echo", {o.echo, "--listen", "127.0.0.1:" + std::to_string(port)}, true, false, port);
    if (!o.coturn.empty()) {
      port = free_udp_port();
      add("coturn", {o.coturn, "-n", "--stun-only", "--no-cli", "--no-tls", "--no-dtls", "--relay-threads", "1",
                     "--listening-ip", "127.0.0.1", "--listening-port", std::to_string(port), "--log-file", "stdout",
                     "--no-software-attribute"},
          false, true, port);
    }

    std::vector<run_record> runs;
    std::map<std::string, honest_result> honest;  // per target, over its register-spoofed runs
    for (int round = 1; round <= o.rounds; ++round) {
      for (auto kind : o.kinds) {
        // Signed before the round's runs, the same for each target (spoofed_flood.hpp): room
        // for 350,000 a second, above any target's rate on this machine.
        std::unique_ptr<spoofed_pool> pool;
        if (kind == request_kind::register_spoofed)
          pool = std::make_unique<spoofed_pool>("f" + std::to_string(round), o.load.sockets,
                                                static_cast<std::size_t>(o.duration.count()) * 350 / o.load.sockets + 256);
        for (const auto& t : targets) {
          if (t.stun_only && kind != request_kind::binding) continue;
          if (t.held_at && kind != request_kind::lookup && kind != request_kind::connect) continue;
          load l(ctx, socket_servers(t, o.load.sockets), o.load);
          credentials creds(l.sockets(), t.echo);
          std::string tag = "r" + std::to_string(round) + "k" + std::to_string(static_cast<int>(kind));
          // Brokers sharing a registry share the ids too: each target registers its own.
          if (t.name == "redis" || t.held_at) tag += t.name.front();
          // The spoofed flood registers nothing first: a spoofer never sees an answer.
          if (!t.echo && kind != request_kind::binding && kind != request_kind::register_spoofed) {
            register_sockets setup(tag, l.sockets(), creds);
            l.run(setup, std::chrono::seconds(5));
            if (!setup.finished() || setup.failed) throw std::runtime_error(t.name + ": cannot register the sockets");
          }
          steady_workload steady(kind, tag, l.sockets(), creds, t.held_at ? o.load.sockets : 0);
          spoofed_flood flood(pool.get());
          workload& w = kind == request_kind::register_spoofed ? static_cast<workload&>(flood) : steady;
          w.echo = t.echo;
          // Under the flood, an honest peer registers from elsewhere (honest_client.hpp).
          std::optional<honest_client> peer;
          if (kind == request_kind::register_spoofed && !t.echo) peer.emplace(t.at, std::chrono::milliseconds(20));
          const double cpu_before = cpu_seconds_of(t.pid);
          const double redis_before = redis ? cpu_seconds_of(redis->pid()) : 0;
          const double holder_before = t.holder_pid > 0 ? cpu_seconds_of(t.holder_pid) : 0;
          const auto result = l.run(w, o.duration);
          if (peer) add_to(honest[t.name], peer->stop());
          runs.push_back({round, kind, t.name, result, cpu_seconds_of(t.pid) - cpu_before});
          if (redis) runs.back().redis_cpu_s = cpu_seconds_of(redis->pid()) - redis_before;
          if (t.holder_pid > 0) runs.back().holder_cpu_s = cpu_seconds_of(t.holder_pid) - holder_before;
          std::cerr << "  round " << round << ' ' << name_of(kind) << ' ' << t.name << ": "
                    << static_cast<long>(runs.back().result.rate()) << "/s\n";
          if (pool && pool->signed_late > 0)
            std::cerr << "  (" << pool->signed_late << " spoofed Registers signed during the run: the pool was short)\n";
          std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let queues settle between runs
        }
      }
    }
    for (auto& s : servers)
      if (!s->alive()) throw std::runtime_error(s->name() + " died during the runs");
    if (redis && !redis->alive()) throw std::runtime_error("redis-server died during the runs");
    servers.clear();
    redis.reset();

    const auto medians = median_of(runs);
    print_table(std::cout, medians);
    print_ratios(std::cout, medians, runs);
    if (!o.redis.empty()) print_cluster(std::cout, medians, runs);
    if (!honest.empty()) print_cookie(std::cout, medians, runs, honest);
    std::vector<memory_point> memory;
    if (o.peers > 0) {
      memory = memory_curve(o, ctx);
      print_memory(std::cout, memory);
    }
    const int status = finish_run(o.csv, o.memory_csv, o.smoke, runs, medians, memory, o.peers);
    if (o.smoke && !honest_check(std::cout, honest)) return 1;
    return status;
  } catch (const std::exception& e) {
    std::cerr << "punch-bench: " << e.what() << '\n';
    return 1;
  }
}
