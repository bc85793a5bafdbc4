// punch-bench's relay kind: punch-relay, punch-echo and coturn started pinned to the server CPU,
// their pairs allocated once, then rounds of the same datagrams through each, interleaved
// (relay, echo, coturn for each payload size), the first round after the start dropped; the
// relay's CPU time per datagram that arrived; then a fresh punch-relay filled with pairs from
// distinct loopback addresses for its memory per allocation.
#include "relay_bench.hpp"

#include "relay_workloads.hpp"
#include "report.hpp"
#include "servers.hpp"

#include <unistd.h>

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <thread>

namespace punch::bench {
namespace {

// The rounds' sockets, and the memory fill's, bind to distinct loopback addresses: punch-relay
// limits ALLOCATE per source address (50/s, burst 100), as it should for real peers.
constexpr std::uint32_t round_addresses = 0x7F000101;  // 127.0.1.1 and up
constexpr std::uint32_t fill_addresses = 0x7F010001;   // 127.1.0.1 and up
constexpr std::size_t fill_batch = 256;                // pairs allocated by one load
const char* const turn_user = "bench";
const char* const turn_password = "bench";

struct relay_target {
  std::string name;  // "relay", "echo", "turn", "turn1": the run's target is name/payload
  std::unique_ptr<server_process> process;
  std::unique_ptr<load> sockets;  // the pairs, allocated once
  framing frames = framing::raw;
};

// A probe that punch-relay answers (401 with a NONCE): ALLOCATE, which it tells by its type.
request_fields allocate_probe(const relay_id& id) {
  request_fields f;
  f.kind = request_kind::relay;
  f.target = std::string_view(reinterpret_cast<const char*>(id.data()), id.size());
  return f;
}

std::unique_ptr<server_process> start_relay(const relay_bench_options& o, const std::string& path,
                                            asio::io_context& ctx, udp_endpoint& at, std::uint32_t max_allocations) {
  at = udp_endpoint(asio::ip::address_v4::loopback(), free_udp_port());
  // No forwarding rate limit (its default, 2000/s per side, would be what is measured), and
  // allocations that outlive the run.
  auto p = std::make_unique<server_process>(
      "punch-relay",
      std::vector<std::string>{path, "--listen", "127.0.0.1:" + std::to_string(at.port()), "--quiet", "--rate-limit",
                               "0", "--max-allocations", std::to_string(max_allocations), "--lifetime", "3600"},
      o.server_cpu);
  p->wait_ready(ctx, at, std::chrono::seconds(10), allocate_probe(relay_id_of(0xFFFFFFFF, 0)));
  return p;
}

// Where the n-th coturn of this bench writes its pid (removed after the runs: coturn leaves it).
std::string coturn_pidfile(int n) {
  return "/tmp/punch-bench-coturn-" + std::to_string(::getpid()) + "-" + std::to_string(n) + ".pid";
}

// The n-th coturn of this bench.
std::unique_ptr<server_process> start_coturn(const relay_bench_options& o, asio::io_context& ctx, udp_endpoint& at,
                                             int n) {
  at = udp_endpoint(asio::ip::address_v4::loopback(), free_udp_port());
  // Relay ports of its own per bench process and coturn, so that the TURN tests running beside
  // it do not collide (they take 50000 and up).
  const int min_port = 30000 + static_cast<int>(::getpid() % 50) * 400 + n * 200;
  const int max_port = min_port + 199;
  auto p = std::make_unique<server_process>(
      "coturn",
      std::vector<std::string>{o.coturn, "-n", "--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1",
                               "--listening-port", std::to_string(at.port()), "--min-port", std::to_string(min_port),
                               "--max-port", std::to_string(max_port), "--allow-loopback-peers", "--no-tls",
                               "--no-dtls", "--no-tcp", "--no-cli", "--relay-threads", "1", "--realm", "punch.bench",
                               "--lt-cred-mech", "--user", std::string(turn_user) + ":" + turn_password,
                               "--log-file", "stdout", "--no-software-attribute", "--pidfile", coturn_pidfile(n)},
      o.server_cpu);
  p->wait_ready(ctx, at, std::chrono::seconds(10));
  return p;
}

// Runs `setup` on `l` until it is done; throws naming `who` if it is not, or failed.
template <typename Setup>
void set_up(load& l, Setup& setup, const std::string& who) {
  l.run(setup, std::chrono::seconds(10));
  if (!setup.finished() || setup.failed)
    throw std::runtime_error(who + ": cannot allocate (" + std::to_string(setup.failed) + " refused)");
}

std::string target_of(const std::string& name, std::size_t payload) { return name + "/" + std::to_string(payload); }

// The relay's per-round CPU ratios against `other`, one column per round.
void print_rounds(std::ostream& out, const std::vector<run_record>& runs, const std::string& relay,
                  const std::string& other) {
  out << std::left << std::setw(24) << (relay + " / " + other) << std::right;
  for (const auto& a : runs) {
    if (a.target != relay) continue;
    for (const auto& b : runs)
      if (b.target == other && b.round == a.round && b.per_cpu_second() > 0)
        out << std::setw(7) << std::fixed << std::setprecision(2) << a.per_cpu_second() / b.per_cpu_second();
  }
  out << '\n';
}

void report(std::ostream& out, const relay_bench_options& o, const std::vector<run_record>& runs,
            const std::vector<median_record>& m) {
  print_table(out, m);
  print_ratio_header(out, "relayed datagrams (req: one that arrived)");
  for (auto p : o.payloads) {
    const std::string relay = target_of("relay", p), echo = target_of("echo", p), turn = target_of("turn", p);
    const std::string size = std::to_string(p) + " B";
    print_ratio(out, ("punch-relay / echo ceiling, " + size).c_str(), m, runs, request_kind::relay, relay.c_str(),
                echo.c_str(), 0.7);
    print_ratio(out, ("punch-relay / coturn ChannelData, " + size).c_str(), m, runs, request_kind::relay,
                relay.c_str(), turn.c_str(), 1.5);
    print_ratio(out, ("punch-relay / coturn one side, " + size).c_str(), m, runs, request_kind::relay, relay.c_str(),
                target_of("turn1", p).c_str(), 1.5);
    print_ratio(out, ("punch-relay / alt (--alt-relay), " + size).c_str(), m, runs, request_kind::relay, relay.c_str(),
                target_of("alt", p).c_str(), 1.0);
  }
  out << "(req/cpu-s: datagrams that arrived per CPU-second of the server they went through; met: judged by\n"
         " the median req/cpu-s ratio)\n\nper round, req/cpu-s ratio\n";
  for (auto p : o.payloads) {
    print_rounds(out, runs, target_of("relay", p), target_of("echo", p));
    if (!o.alt_relay.empty()) print_rounds(out, runs, target_of("relay", p), target_of("alt", p));
    if (!o.coturn.empty()) {
      print_rounds(out, runs, target_of("relay", p), target_of("turn", p));
      print_rounds(out, runs, target_of("relay", p), target_of("turn1", p));
    }
  }
}

// A fresh punch-relay filled with `allocations` pairs in `steps` steps, each pair two sockets
// of distinct loopback addresses (a source may hold one allocation only), closed once
// allocated: its RSS before and after each step.
std::vector<memory_point> relay_memory(const relay_bench_options& o, asio::io_context& ctx) {
  udp_endpoint at;
  auto relay = start_relay(o, o.relay, ctx, at, o.allocations + 16);
  std::vector<memory_point> points;
  auto m = memory_of(relay->pid());
  points.push_back({0, m.rss_kib, m.hwm_kib, 0});
  std::uint32_t done = 0;
  std::uint64_t failed = 0;
  for (int step = 1; step <= o.steps; ++step) {
    const auto last = static_cast<std::uint32_t>(static_cast<std::uint64_t>(o.allocations) * step / o.steps);
    const auto started = std::chrono::steady_clock::now();
    const std::uint32_t first = done;
    while (done < last) {
      const auto pairs = std::min<std::uint32_t>(fill_batch, last - done);
      load_options lo = o.load;
      lo.window = 1;
      lo.first_address = fill_addresses + 2 * done;
      load l(ctx, std::vector<udp_endpoint>(2 * pairs, at), lo);
      relay_allocate w(l.sockets(), 1, done);
      l.run(w, std::chrono::seconds(10));
      failed += w.failed + (w.finished() ? 0 : 1);
      done += pairs;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    m = memory_of(relay->pid());
    points.push_back({done, m.rss_kib, m.hwm_kib, failed});
    std::cerr << "  memory: " << done << " allocations, VmRSS " << m.rss_kib << " KiB, VmHWM " << m.hwm_kib << " KiB ("
              << static_cast<long>((done - first) / std::max(s, 1e-3)) << " pairs/s)\n";
  }
  if (!relay->alive()) throw std::runtime_error("punch-relay died while filled");
  return points;
}

}  // namespace

int run_relay_bench(const relay_bench_options& o) {
  try {
    pin_to_cpu(o.client_cpu);
    asio::io_context ctx;
    load_options lo = o.load;
    lo.first_address = round_addresses;
    std::vector<relay_target> targets;
    auto add = [&](std::string name, std::unique_ptr<server_process> p, const udp_endpoint& at, framing f) {
      targets.push_back({std::move(name), std::move(p), std::make_unique<load>(ctx, std::vector<udp_endpoint>(2 * o.pairs, at), lo),
                         f});
    };
    udp_endpoint at;
    for (const auto* path : {&o.relay, &o.alt_relay}) {
      if (path->empty()) continue;
      auto relay = start_relay(o, *path, ctx, at, static_cast<std::uint32_t>(o.pairs) + 16);
      add(path == &o.relay ? "relay" : "alt", std::move(relay), at, framing::raw);
      relay_allocate pairs(2 * o.pairs, 0);
      set_up(*targets.back().sockets, pairs, "punch-relay " + *path);
    }
    at = udp_endpoint(asio::ip::address_v4::loopback(), free_udp_port());
    auto echo = std::make_unique<server_process>(
        "punch-echo", std::vector<std::string>{o.echo, "--listen", "127.0.0.1:" + std::to_string(at.port())}, o.server_cpu);
    echo->wait_ready(ctx, at, std::chrono::seconds(10));
    add("echo", std::move(echo), at, framing::raw);
    if (!o.coturn.empty()) {
      // Both sides allocate ("turn"), as two TURN clients relay to each other; and one side
      // only ("turn1"), its partner sending to the relayed address: a coturn each, so that each
      // one's CPU time is its own.
      for (const bool one_sided : {false, true}) {
        auto coturn = start_coturn(o, ctx, at, one_sided ? 1 : 0);
        add(one_sided ? "turn1" : "turn", std::move(coturn), at, one_sided ? framing::channel_data_even : framing::channel_data);
        turn_allocate channels(2 * o.pairs, turn_user, turn_password, one_sided);
        load& l = *targets.back().sockets;
        set_up(l, channels, one_sided ? "coturn (one side)" : "coturn");
        if (one_sided)
          for (std::size_t i = 1; i < l.sockets(); i += 2) l.aim(i, *channels.relayed_address(i - 1));
      }
    }

    // Round 0 is the first after the servers started (caches, page faults, coturn's first
    // channel use): run like the others, not recorded.
    std::vector<run_record> runs;
    for (int round = 0; round <= o.rounds; ++round) {
      for (auto payload : o.payloads) {
        for (auto& t : targets) {
          relay_stream w(payload, t.frames);
          const pid_t pid = t.process->pid();
          const double cpu_before = cpu_seconds_of(pid);
          const auto result = t.sockets->run(w, o.duration);
          const double cpu = cpu_seconds_of(pid) - cpu_before;
          std::cerr << "  round " << round << (round == 0 ? " (dropped) " : " ") << t.name << ' ' << payload
                    << " B: " << static_cast<long>(result.rate()) << "/s, " << result.lost << " lost\n";
          if (round > 0) runs.push_back({round, request_kind::relay, target_of(t.name, payload), result, cpu});
          std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let queues settle between runs
        }
      }
    }
    for (auto& t : targets)
      if (!t.process->alive()) throw std::runtime_error(t.process->name() + " died during the runs");
    targets.clear();
    for (int n : {0, 1}) {
      std::error_code ignored;
      std::filesystem::remove(coturn_pidfile(n), ignored);
    }

    const auto medians = median_of(runs);
    report(std::cout, o, runs, medians);
    std::vector<memory_point> memory;
    if (o.allocations > 0) {
      memory = relay_memory(o, ctx);
      print_memory(std::cout, memory, "allocations", "alloc");
    }
    return finish_run(o.csv, o.memory_csv, o.smoke, runs, medians, memory, o.allocations);
  } catch (const std::exception& e) {
    std::cerr << "punch-bench: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace punch::bench
