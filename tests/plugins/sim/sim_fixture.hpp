// Shared by the sim tests: an io_context with a traced network, a coroutine runner on the
// network's virtual clock, and small send/receive helpers. Nothing here sleeps or waits real
// time: receives wait for datagrams, timeouts are virtual, and the virtual-time caps only keep
// a broken test from hanging.
#pragma once

#include "punch/plugins/sim.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sim_test {

namespace asio = boost::asio;
namespace sim = punch::sim;
using punch::endpoint;
using namespace std::chrono_literals;

inline asio::ip::address addr(std::string_view text) {
  return asio::ip::make_address(std::string(text));
}
inline endpoint ep(std::string_view address, std::uint16_t port) { return {addr(address), port}; }

// The clock of the world under test, for receive()'s patience (one world at a time).
inline punch::clock*& world_clock() {
  static punch::clock* c = nullptr;
  return c;
}

// An io_context and a network that keeps its whole trace.
struct world {
  asio::io_context ctx;
  sim::network net;

  explicit world(std::uint64_t seed = 1) : net(ctx.get_executor(), seed) {
    net.keep_trace(100'000);
    world_clock() = &net.clock();
  }
  ~world() { world_clock() = nullptr; }

  // Runs `body` to completion, within `cap` of virtual time, and rethrows what it threw.
  // Returns the virtual time it took.
  punch::clock::duration run(asio::awaitable<void> body, std::chrono::seconds cap = 10s) {
    bool done = false;
    std::exception_ptr error;
    asio::co_spawn(ctx, std::move(body), [&](std::exception_ptr e) {
      done = true;
      error = e;
    });
    ctx.restart();
    const auto r = sim::run(ctx, net.virtual_time(), [&] { return done; }, {.time = cap});
    if (error) std::rethrow_exception(error);
    BOOST_REQUIRE_MESSAGE(done, "the test coroutine did not finish: " << sim::to_string(r.outcome));
    return r.elapsed;
  }

  // Runs until nothing more can happen: every datagram in flight arrived, every completion
  // ran (pending receives may still wait). Returns the virtual time it took.
  punch::clock::duration settle() {
    ctx.restart();
    const auto r = sim::run(ctx, net.virtual_time());
    BOOST_REQUIRE_MESSAGE(r.outcome == sim::run_outcome::out_of_work || r.outcome == sim::run_outcome::stuck,
                          "the network did not settle: " << sim::to_string(r.outcome));
    return r.elapsed;
  }

  // The events about datagram `packet` (0: the last one sent), in order.
  std::vector<sim::event_kind> fate(std::uint64_t packet = 0) const {
    if (packet == 0) packet = net.datagrams_sent();
    std::vector<sim::event_kind> kinds;
    for (const auto& e : net.trace()) {
      if (e.packet == packet) kinds.push_back(e.kind);
    }
    return kinds;
  }

  bool saw(sim::event_kind kind, std::uint64_t packet = 0) const {
    auto kinds = fate(packet);
    return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
  }

  // Whether the network decided to drop datagram `packet` when it was sent.
  bool dropped(std::uint64_t packet = 0) const {
    return saw(sim::event_kind::lost, packet) || saw(sim::event_kind::filtered, packet) ||
           saw(sim::event_kind::hairpin_dropped, packet) ||
           saw(sim::event_kind::unreachable, packet);
  }

  std::size_t count(sim::event_kind kind) const {
    return static_cast<std::size_t>(std::count_if(
        net.trace().begin(), net.trace().end(), [&](const auto& e) { return e.kind == kind; }));
  }

  std::vector<std::string> trace_lines() const {
    std::vector<std::string> lines;
    for (const auto& e : net.trace()) lines.push_back(e.to_string());
    return lines;
  }
};

// One host behind a NAT box and two public servers:
//   inside 10.0.0.2 -- nat 198.51.100.1 -- internet: server 203.0.113.10, other 203.0.113.20
struct behind_nat : world {
  sim::nat_box& nat;
  sim::host& inside;
  sim::host& server;
  sim::host& other;

  explicit behind_nat(const sim::nat_behaviour& behaviour, std::uint64_t seed = 1)
      : world(seed),
        nat(net.add_nat("nat", net.internet(), addr("198.51.100.1"), behaviour)),
        inside(net.add_host("inside", nat.inside(), addr("10.0.0.2"))),
        server(net.add_host("server", net.internet(), addr("203.0.113.10"))),
        other(net.add_host("other", net.internet(), addr("203.0.113.20"))) {}
};

struct datagram {
  std::string text;
  endpoint from;
};

inline asio::awaitable<void> send(punch::datagram_socket& s, std::string_view text,
                                  const endpoint& to) {
  co_await s.async_send_to(asio::buffer(text.data(), text.size()), to, asio::use_awaitable);
}

// The next datagram, or nullopt when none comes within `patience`.
inline asio::awaitable<std::optional<datagram>> receive(
    punch::datagram_socket& s, std::chrono::milliseconds patience = 2s) {
  using namespace asio::experimental::awaitable_operators;
  std::array<char, 2048> buffer{};
  endpoint from;
  punch::timer timer(co_await asio::this_coro::executor, *world_clock(), patience);
  auto result = co_await (s.async_receive_from(asio::buffer(buffer), from, asio::use_awaitable) ||
                          timer.async_wait(asio::use_awaitable));
  if (result.index() == 1) co_return std::nullopt;
  co_return datagram{std::string(buffer.data(), std::get<0>(result)), from};
}

// The endpoint `server_socket` sees when `client` sends to it: the client's mapping.
inline asio::awaitable<endpoint> observed(punch::datagram_socket& client,
                                          punch::datagram_socket& server_socket) {
  co_await send(client, "who am i", server_socket.local_endpoint());
  auto got = co_await receive(server_socket);
  BOOST_REQUIRE(got);
  co_return got->from;
}

}  // namespace sim_test
