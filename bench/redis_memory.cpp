// punch-bench-redis-memory: Redis memory per registration (issue 16's target: at most 400
// bytes at 1M). Claims N registrations through make_redis_cluster, as a broker would (the
// claim script, the real value layout), a window of them in flight at once, and reports
// Redis's used_memory before and after. Run it against a Redis of its own:
//   redis-server --port 0 --save '' --appendonly no --unixsocket /tmp/r.sock &
//   punch-bench-redis-memory --redis redis+unix:///tmp/r.sock --count 1000000
#include "punch/redis.hpp"
#include "redis/client.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

std::uint64_t used_memory(asio::io_context& ctx, punch::detail::redis_client& c) {
  std::optional<std::string> info;
  c.command({"INFO", "memory"}, [&](punch::error_code ec, punch::detail::redis_reply r) {
    info = ec ? std::string() : r.text;
  });
  while (!info) ctx.run_one();
  const auto at = info->find("used_memory:");
  return at == std::string::npos ? 0 : std::stoull(info->substr(at + 12));
}

}  // namespace

int main(int argc, char** argv) {
  std::string url;
  std::size_t count = 100000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string opt = argv[i];
    if (opt == "--redis") url = argv[i + 1];
    if (opt == "--count") count = std::strtoull(argv[i + 1], nullptr, 10);
  }
  auto parsed = punch::parse_redis_url(url);
  if (!parsed.address) {
    std::cerr << "usage: punch-bench-redis-memory --redis URL [--count N]\n" << parsed.error << "\n";
    return 2;
  }
  asio::io_context ctx;
  punch::detail::redis_client probe(ctx.get_executor(), *parsed.address);
  auto cluster = punch::make_redis_cluster(ctx.get_executor(), *parsed.address, {.name = "broker-1:3478"});
  probe.start();
  cluster->start();
  while (probe.state() != punch::cluster_state::up || cluster->stats().state != punch::cluster_state::up) {
    if (probe.state() == punch::cluster_state::down) {
      std::cerr << "Redis: " << probe.last_error() << "\n";
      return 1;
    }
    ctx.run_one();
  }
  const auto before = used_memory(ctx, probe);
  std::size_t sent = 0, done = 0, failed = 0;
  const auto started = std::chrono::steady_clock::now();
  constexpr std::size_t window = 4096;
  char id[32];
  while (done < count) {
    while (sent < count && sent - done < window) {
      punch::registration_record r;
      std::snprintf(id, sizeof id, "peer-%011zu", sent);  // 16 characters, a typical id
      r.set_id(id);
      r.key.fill(std::byte(sent & 0xFF));
      r.key[0] = std::byte((sent >> 8) & 0xFF);
      r.reflexive = {asio::ip::address_v4(0xCB007100u + static_cast<std::uint32_t>(sent & 0xFF)), 40000};
      r.add_host({asio::ip::address_v4(0xC0A80114u), 40000});
      r.add_host({asio::ip::address_v4(0x0A000005u), 40000});
      r.nat = 1;
      cluster->claim(r, 600s, [&](punch::error_code ec) {
        ++done;
        if (ec) ++failed;
      });
      ++sent;
    }
    ctx.run_one();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const auto after = used_memory(ctx, probe);
  std::printf("registrations %zu (failed %zu) in %.1f s (%.0f claims/s)\n", count, failed, seconds,
              static_cast<double>(count) / seconds);
  std::printf("redis used_memory: %llu -> %llu bytes: %.1f bytes per registration\n",
              static_cast<unsigned long long>(before), static_cast<unsigned long long>(after),
              static_cast<double>(after - before) / static_cast<double>(count - failed));
  cluster->stop();
  probe.stop();
  return failed == 0 ? 0 : 1;
}
