// A test world on the simulated network: a broker on the public internet and peers behind
// NAT boxes of any RFC 4787 behaviour, all on one io_context and on the network's virtual
// clock (sessions, broker and relay read it), run by sim::run: no scenario waits real time,
// and its time limits and measured durations are virtual, exact and repeatable. Tears down in
// order so no coroutine outlives the network it talks to.
#pragma once

#include "punch/broker.hpp"
#include "punch/plugins/sim.hpp"
#include "punch/relay.hpp"
#include "punch/session.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <exception>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace punch::test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

inline asio::ip::address addr(const char* s) { return asio::ip::make_address(s); }

// Runs every coroutine at once and waits for all of them; rethrows the first failure.
inline asio::awaitable<void> all_of(std::vector<asio::awaitable<void>> tasks) {
  auto ex = co_await asio::this_coro::executor;
  using op = decltype(asio::co_spawn(ex, std::declval<asio::awaitable<void>>(), asio::deferred));
  std::vector<op> ops;
  for (auto& t : tasks) ops.push_back(asio::co_spawn(ex, std::move(t), asio::deferred));
  auto [order, errors] = co_await asio::experimental::make_parallel_group(std::move(ops))
                             .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

class sim_world;
// The clock of the world under test (one world at a time), for helpers that have no world.
inline punch::clock*& current_world_clock() {
  static punch::clock* c = nullptr;
  return c;
}
inline punch::clock& world_clock() { return *current_world_clock(); }
// Whole milliseconds of the world's time since `start`.
inline long long ms_since(punch::clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(world_clock().now() - start).count();
}

class sim_world {
public:
  explicit sim_world(std::uint64_t seed = 1, sim::link l = {std::chrono::milliseconds(5), {}, 0.0})
      : ctx_storage(std::make_unique<asio::io_context>()), ctx(*ctx_storage), net(ctx.get_executor(), seed), link(l) {
    current_world_clock() = &net.clock();
    broker_host = &net.add_host("broker", net.internet(), addr("203.0.113.1"), link);
    // PUNCH_SIM_TRACE=1 prints every decision of the simulated network, for debugging.
    if (std::getenv("PUNCH_SIM_TRACE")) net.on_event([](const sim::event& e) { std::cerr << e << '\n'; });
    // The broker's second port for NAT mapping discovery: Binding only, stateless, it
    // survives broker restarts.
    other_socket = broker_host->transport().open({{}, 3480});
    broker_options other;
    other.binding_only = true;
    other.clock = &net.clock();
    other_broker = std::make_unique<punch::broker>(other_socket, other_registry, other);
    asio::co_spawn(ctx, other_broker->run(), asio::detached);
    broker_opts.other_address = endpoint{addr("203.0.113.1"), 3480};
    // The broker's registrations expire, and its Introduce retransmits, on the network's time.
    broker_opts.clock = &net.clock();
    start_broker();
  }

  ~sim_world() {
    current_world_clock() = nullptr;
    // A scenario that hung may still reference the test's locals: leak rather than resume it.
    if (hung) {
      (void)ctx_storage.release();  // never run again, never destroyed
      return;
    }
    // Close everything, then let every coroutine run to its end before the network goes.
    for (auto& s : sessions) s->close();
    for (auto& b : brokers) b->socket.close();
    for (auto& b : other_brokers) b->socket.close();
    for (auto& r : relays) r->socket.close();
    other_socket.close();
    settle(3s);
    sessions.clear();
    settle(1s);
  }

  // Runs until nothing is left to do (or nothing more can happen), for at most `limit` of
  // virtual time.
  sim::run_result settle(std::chrono::seconds limit) {
    ctx.restart();
    return sim::run(ctx, net.virtual_time(), {}, {.time = limit});
  }

  // A broker with its own socket and an empty registry; old ones stay until teardown so
  // that their run() coroutines can end.
  struct broker_instance {
    datagram_socket socket;
    std::unique_ptr<registry> reg;
    std::unique_ptr<punch::broker> service;
  };

  void start_broker() {
    auto b = std::make_unique<broker_instance>();
    // A dual-stack broker listens on "::" (both families on one socket), as punch-broker
    // --listen [::]:3478 does.
    b->socket = broker_host->transport().open({broker_dual ? addr("::") : asio::ip::address{}, 3478});
    b->reg = make_memory_registry(1000);
    b->service = std::make_unique<punch::broker>(b->socket, *b->reg, broker_opts);
    asio::co_spawn(ctx, b->service->run(), asio::detached);
    brokers.push_back(std::move(b));
  }

  // A broker restart: the process dies with its registry and comes back empty.
  void restart_broker() {
    brokers.back()->socket.close();
    start_broker();
  }

  // Another broker on a host of its own at `address` (port 3478), with its own registry and
  // its own second port for NAT discovery (3480), as a second punch-broker process would be:
  // a fallback for peer failover. With `v6`, the host has that IPv6 address too and the
  // broker listens dual-stack. Closing its socket kills it.
  broker_instance& start_broker_on_host(const std::string& name, const char* address, const char* v6 = nullptr) {
    auto& h = net.add_host(name, net.internet(), addr(address), link);
    if (v6) net.add_address(h, net.internet(), addr(v6));
    broker_options second_port;
    second_port.binding_only = true;
    second_port.clock = &net.clock();
    broker_options o = broker_opts;
    o.other_address = endpoint{addr(address), 3480};
    for (auto [port, opts] : {std::pair{3480, &second_port}, std::pair{3478, &o}}) {
      auto b = std::make_unique<broker_instance>();
      const bool dual = v6 && port == 3478;
      b->socket = h.transport().open({dual ? addr("::") : asio::ip::address{}, static_cast<std::uint16_t>(port)});
      b->reg = make_memory_registry(1000);
      b->service = std::make_unique<punch::broker>(b->socket, *b->reg, *opts);
      asio::co_spawn(ctx, b->service->run(), asio::detached);
      other_brokers.push_back(std::move(b));
    }
    return *other_brokers.back();
  }

  // The first broker's process dies: its port and its second port go silent.
  void kill_first_broker() {
    brokers.back()->socket.close();
    other_socket.close();
  }

  // A relay on the internet next to the broker, at relay_endpoint().
  struct relay_instance {
    datagram_socket socket;
    std::unique_ptr<punch::relay> service;
  };
  punch::relay& start_relay(relay_options o = {}) {
    if (!relay_host) relay_host = &net.add_host("relay", net.internet(), addr("203.0.113.2"), link);
    auto r = std::make_unique<relay_instance>();
    r->socket = relay_host->transport().open({{}, 3479});
    if (!o.clock) o.clock = &net.clock();  // allocations expire on the network's time
    r->service = std::make_unique<punch::relay>(r->socket, std::move(o));
    asio::co_spawn(ctx, r->service->run(), asio::detached);
    relays.push_back(std::move(r));
    return *relays.back()->service;
  }
  endpoint relay_endpoint() const { return {addr("203.0.113.2"), 3479}; }

  // Session options that fall back on this world's relay after 500 ms (start_relay() first).
  session_options with_relay(session_options o = {}) const {
    o.relay = relay_endpoint();
    o.relay_after = 500ms;
    o.punch_timeout = 5s;
    o.request_timeout = 2s;
    return o;
  }

  punch::broker& current_broker() { return *brokers.back()->service; }
  registry& current_registry() { return *brokers.back()->reg; }

  endpoint broker_endpoint() const { return {addr("203.0.113.1"), 3478}; }
  endpoint broker_endpoint_v6() const { return {addr("2001:db8::1"), 3478}; }

  // The broker gets an IPv6 address too (2001:db8::1) and listens dual-stack.
  void enable_ipv6() {
    net.add_address(*broker_host, net.internet(), addr("2001:db8::1"));
    broker_dual = true;
    restart_broker();
  }

  // A dual-stack home: IPv4 behind its own NAT of a preset type (10.0.0.2 inside), IPv6
  // (2001:db8:N::2) behind a stateful firewall, the usual home router's two halves. "none" for
  // nat_type: IPv4 directly on the internet.
  sim::host& add_dual_stack_host(const std::string& name, const std::string& nat_type) {
    auto& h = add_peer_host(name, nat_type);
    net.add_address(h, firewalled_realm(name, hosts_made), v6_of(hosts_made));
    return h;
  }

  // An IPv6-only home: one address behind a stateful firewall.
  sim::host& add_ipv6_host(const std::string& name) {
    const int n = ++hosts_made;
    return net.add_host(name, firewalled_realm(name, n), v6_of(n), link);
  }

  // Options for a session on a dual-stack host: a dual-stack socket, and the broker's IPv6
  // address beside its IPv4 one.
  session_options dual_stack(session_options o = {}) const {
    o.local = endpoint{addr("::"), 0};
    o.broker_other_family = broker_endpoint_v6();
    return o;
  }

  // A peer host: directly on the internet ("none") or behind its own NAT of a preset type.
  sim::host& add_peer_host(const std::string& name, const std::string& nat_type) {
    const int n = ++hosts_made;
    if (nat_type == "none") {
      const std::string a = "198.51.100." + std::to_string(n + 10);
      return net.add_host(name, net.internet(), addr(a.c_str()), link);
    }
    auto behaviour = sim::nat_behaviour::preset(nat_type);
    BOOST_REQUIRE_MESSAGE(behaviour, "unknown NAT preset " + nat_type);
    const std::string ext = "198.51.100." + std::to_string(n + 100);
    auto& nat = net.add_nat("nat-" + name, net.internet(), addr(ext.c_str()), *behaviour, link);
    return net.add_host(name, nat.inside(), addr("10.0.0.2"), link);
  }

  session& add_session(sim::host& h, const std::string& id, session_options o = {}) {
    // An IPv6-only host talks to the broker over IPv6.
    o.broker = h.address().is_v6() && !h.second_address() ? broker_endpoint_v6() : broker_endpoint();
    o.id = id;
    o.clock = &net.clock();
    sessions.push_back(std::make_unique<session>(h.transport(), o));
    return *sessions.back();
  }

  // Runs one scenario coroutine to its end, within `limit` of virtual time; rethrows what it
  // threw. Returns the virtual time it took.
  template <typename Awaitable>
  sim::clock::duration run(Awaitable a, std::chrono::seconds limit = 30s) {
    struct outcome {
      bool done = false;
      std::exception_ptr error;
    };
    auto result = std::make_shared<outcome>();
    asio::co_spawn(ctx, std::move(a), [result](std::exception_ptr e) {
      result->error = e;
      result->done = true;
    });
    ctx.restart();
    const auto r = sim::run(ctx, net.virtual_time(), [&] { return result->done; }, {.time = limit});
    hung = !result->done;
    BOOST_REQUIRE_MESSAGE(result->done, "scenario did not finish: " << sim::to_string(r.outcome) << " after "
                                            << std::chrono::duration_cast<std::chrono::milliseconds>(r.elapsed).count()
                                            << " ms of virtual time");
    if (result->error) std::rethrow_exception(first_of(result->error));
    return r.elapsed;
  }

  // Waits `d` of the world's virtual time (in a scenario coroutine).
  asio::awaitable<void> pause(std::chrono::milliseconds d) {
    punch::timer t(ctx.get_executor(), net.clock());
    t.expires_after(d);
    co_await t.async_wait(asio::use_awaitable);
  }

  // The error code of a failed step (system_error, possibly inside multiple_exceptions).
  static error_code code_of(std::exception_ptr e) {
    try {
      std::rethrow_exception(first_of(e));
    } catch (const system_error& s) {
      return s.code();
    }
  }

  // awaitable_operators' && throws multiple_exceptions when both sides fail; the first is
  // the one that matters.
  static std::exception_ptr first_of(std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const asio::multiple_exceptions& m) {
      return first_of(m.first_exception());
    } catch (...) {
      return std::current_exception();
    }
  }

  std::unique_ptr<asio::io_context> ctx_storage;
  asio::io_context& ctx;
  sim::network net;
  sim::link link;
  sim::host* broker_host = nullptr;
  broker_options broker_opts;
  datagram_socket other_socket;
  std::unique_ptr<registry> other_registry_storage = make_memory_registry(1);
  registry& other_registry = *other_registry_storage;
  std::unique_ptr<punch::broker> other_broker;
  std::list<std::unique_ptr<broker_instance>> brokers;
  std::list<std::unique_ptr<broker_instance>> other_brokers;  // start_broker_on_host's
  sim::host* relay_host = nullptr;
  std::list<std::unique_ptr<relay_instance>> relays;
  std::list<std::unique_ptr<session>> sessions;
  int hosts_made = 0;
  bool hung = false;
  bool broker_dual = false;

private:
  static asio::ip::address v6_of(int n) { return addr(("2001:db8:" + std::to_string(100 + n) + "::2").c_str()); }
  // A stateful firewall whose external address is its one host's own.
  sim::realm firewalled_realm(const std::string& name, int n) {
    return net.add_nat("fw-" + name, net.internet(), v6_of(n), sim::nat_behaviour::stateful_firewall(), link).inside();
  }

public:
};

}  // namespace punch::test
