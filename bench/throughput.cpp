// punch-bench-throughput: datagram throughput over an established punch connection on
// loopback, against raw UDP between two plain asio sockets, in the same process and the same
// pattern: batches of `window` datagrams sent, then received, on one thread. Rounds alternate
// raw, punch send(), punch send_batch(), stream, raw, … and the medians are compared (these
// machines are noisy).
#include "cli.hpp"
#include "percentile.hpp"

#include "punch/broker.hpp"
#include "punch/connection.hpp"
#include "punch/plugins/udp.hpp"
#include "punch/registry.hpp"
#include "punch/session.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
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
using udp_socket = asio::ip::udp::socket;

namespace {

struct bench_options {
  int datagrams = 200000;
  int window = 32;
  int rounds = 5;
  std::size_t size = 1000;
};

// Sends `count` datagrams of `size` bytes with `send`, `window` at a time, each batch then
// received with `receive`; returns datagrams per second.
template <typename Send, typename Receive>
asio::awaitable<double> pump(const bench_options& o, Send send, Receive receive) {
  std::vector<std::byte> out(o.size, std::byte{0x5a});
  std::array<std::byte, 2048> in;
  const auto started = clock_type::now();
  for (int sent = 0; sent < o.datagrams; sent += o.window) {
    for (int i = 0; i < o.window; ++i) co_await send(asio::buffer(out));
    for (int i = 0; i < o.window; ++i) co_await receive(asio::buffer(in));
  }
  co_return o.datagrams / std::chrono::duration<double>(clock_type::now() - started).count();
}

asio::awaitable<double> raw_round(const bench_options& o) {
  auto ex = co_await asio::this_coro::executor;
  const asio::ip::udp::endpoint any{asio::ip::make_address("127.0.0.1"), 0};
  udp_socket a(ex, any), b(ex, any);
  const auto to = b.local_endpoint();
  co_return co_await pump(
      o, [&](asio::const_buffer d) { return a.async_send_to(d, to, asio::use_awaitable); },
      [&](asio::mutable_buffer d) { return b.async_receive(d, asio::use_awaitable); });
}

asio::awaitable<double> punch_round(const bench_options& o, connection& a, connection& b) {
  co_return co_await pump(
      o, [&](asio::const_buffer d) { return a.send(d); }, [&](asio::mutable_buffer d) { return b.receive(d); });
}

// The same pattern with each window of datagrams sent by one send_batch (one sendmmsg).
asio::awaitable<double> batch_round(const bench_options& o, connection& a, connection& b) {
  std::vector<std::byte> out(o.size, std::byte{0x5a});
  const std::vector<asio::const_buffer> window(static_cast<std::size_t>(o.window), asio::buffer(out));
  std::array<std::byte, 2048> in;
  const auto started = clock_type::now();
  for (int sent = 0; sent < o.datagrams; sent += o.window) {
    co_await a.send_batch(window);
    for (int i = 0; i < o.window; ++i) co_await b.receive(asio::buffer(in));
  }
  co_return o.datagrams / std::chrono::duration<double>(clock_type::now() - started).count();
}

// The same bytes as a round of datagrams (datagrams × size) through one stream, written in
// 64 KiB pieces while the other side reads them; returns bytes per second (goodput).
asio::awaitable<double> stream_round(const bench_options& o, stream& a, stream& b) {
  const std::size_t total = static_cast<std::size_t>(o.datagrams) * o.size;
  std::vector<std::byte> out(64 * 1024, std::byte{0x5a}), in(64 * 1024);
  const auto started = clock_type::now();
  auto writer = [&]() -> asio::awaitable<void> {
    for (std::size_t sent = 0; sent < total; sent += out.size())
      co_await asio::async_write(a, asio::buffer(out.data(), std::min(out.size(), total - sent)), asio::use_awaitable);
  };
  auto reader = [&]() -> asio::awaitable<void> {
    for (std::size_t got = 0; got < total;) got += co_await b.async_read_some(asio::buffer(in), asio::use_awaitable);
  };
  co_await (writer() && reader());
  co_return static_cast<double>(total) / std::chrono::duration<double>(clock_type::now() - started).count();
}

}  // namespace

int main(int argc, char* argv[]) {
  bench_options o;
  po::options_description d("Usage: punch-bench-throughput [options]\n\nOptions");
  d.add_options()
      ("datagrams", po::value(&o.datagrams)->default_value(o.datagrams), "datagrams per round")
      ("window", po::value(&o.window)->default_value(o.window), "datagrams in flight per batch")
      ("rounds", po::value(&o.rounds)->default_value(o.rounds), "rounds of each (raw, send, send_batch, stream, interleaved)")
      ("size", po::value(&o.size)->default_value(o.size), "payload bytes per datagram (1..1200)")
      ("help,h", "print this help and exit");
  if (auto stop = bench::parse_command_line(argc, argv, d, "punch-bench-throughput", "Exit codes: 0 measured; 1 the connection failed; 2 bad options\n")) return *stop;
  if (o.datagrams < 1 || o.window < 1 || o.window > 256 || o.rounds < 1 || o.size < 1 || o.size > 1200) {
    std::cerr << "punch-bench-throughput: --datagrams, --rounds ≥ 1; --window 1..256; --size 1..1200\n";
    return 2;
  }
  o.datagrams = (o.datagrams + o.window - 1) / o.window * o.window;

  asio::io_context ctx;
  error_code ec;
  auto udp = udp::make_transport(ctx.get_executor(), {}, ec);
  if (ec) {
    std::cerr << "punch-bench-throughput: the udp transport: " << ec.message() << '\n';
    return 1;
  }
  const auto loopback = asio::ip::make_address("127.0.0.1");
  auto broker_socket = udp->open(endpoint{loopback, 0});
  auto reg = make_memory_registry(16);
  broker b(broker_socket, *reg);
  asio::co_spawn(ctx, b.run(), asio::detached);
  session_options so;
  so.broker = b.local_endpoint();
  so.local = endpoint{loopback, 0};
  auto sa = so, sb = so;
  sa.id = "alice";
  sb.id = "bob";
  session alice(*udp, sa), bob(*udp, sb);

  std::vector<double> raw, punched, batched, streamed;
  int exit_code = 0;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        co_await (alice.register_self() && bob.register_self());
        auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
        // A build without usrsctp (PUNCH_STREAMS) has no streams: that line is left out.
        auto [no_streams, sa] = co_await ca.open_stream(asio::as_tuple(asio::use_awaitable));
        stream sb;
        if (!no_streams) sb = co_await cb.accept_stream();
        for (int r = 0; r < o.rounds; ++r) {
          raw.push_back(co_await raw_round(o));
          punched.push_back(co_await punch_round(o, ca, cb));
          batched.push_back(co_await batch_round(o, ca, cb));
          if (!no_streams) streamed.push_back(co_await stream_round(o, sa, sb));
        }
        co_await (ca.close() && cb.close());
      },
      [&](std::exception_ptr e) {
        if (bench::report_failure("punch-bench-throughput", e)) exit_code = 1;
        alice.close();
        bob.close();
        broker_socket.close();
      });
  ctx.run();
  if (exit_code) return exit_code;
  const double r = bench::median(raw), p = bench::median(punched), pb = bench::median(batched);
  std::printf("%d rounds x %d datagrams of %zu bytes, window %d, loopback, one thread\n", o.rounds, o.datagrams,
              o.size, o.window);
  std::printf("raw UDP (asio)      %10.0f datagrams/s  %7.1f MB/s\n", r, r * static_cast<double>(o.size) / 1e6);
  std::printf("punch connection    %10.0f datagrams/s  %7.1f MB/s\n", p, p * static_cast<double>(o.size) / 1e6);
  std::printf("punch send_batch    %10.0f datagrams/s  %7.1f MB/s\n", pb, pb * static_cast<double>(o.size) / 1e6);
  std::printf("ratio punch/raw     %10.2f  (send: target >= 0.80)\n", p / r);
  std::printf("batch/raw by round ");
  for (std::size_t i = 0; i < batched.size(); ++i) std::printf(" %.2f", batched[i] / raw[i]);
  std::printf("\n");
  std::printf("ratio batch/raw     %10.2f  (send_batch: target >= 1.00)\n", pb / r);
  // Batches must not reorder beyond the replay window: frames it refused as too old (or seen).
  std::printf("frames refused by the replay window: %llu\n",
              static_cast<unsigned long long>(alice.stats().frames_replayed + bob.stats().frames_replayed));
  if (!streamed.empty()) {
    // Each round's ratio too: on a shared machine the rounds differ more than the medians say.
    std::printf("stream/punch by round");
    for (std::size_t i = 0; i < streamed.size(); ++i)
      std::printf(" %.2f", streamed[i] / (punched[i] * static_cast<double>(o.size)));
    std::printf("\n");
    const double g = bench::median(streamed);
    std::printf("one stream (SCTP)   %10s              %7.1f MB/s goodput\n", "", g / 1e6);
    std::printf("ratio stream/punch  %10.2f  (target >= 0.70, bytes/s against the connection's)\n",
                g / (p * static_cast<double>(o.size)));
  }
  return 0;
}
