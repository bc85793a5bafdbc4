// The relay serving a socket on the simulated network (ring: sim): peers behind NATs that
// cannot punch (symmetric on one side, port-restricted on the other) allocate with the NONCE
// exchange and then reach each other through it, byte for byte, both ways; a third source is
// refused and a stranger's datagrams go nowhere; an allocation left idle expires on the
// network's clock (advance_clock), with its event.
#include "relay_test_support.hpp"
#include "run_coroutine.hpp"

#include "punch/plugins/sim.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <exception>
#include <functional>
#include <memory>
#include <optional>

BOOST_AUTO_TEST_SUITE(relay_sim_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace relay_test;
namespace sim = punch::sim;

namespace {

// A raw socket on a simulated host, as a peer's session uses it.
class peer {
public:
  explicit peer(sim::host& h) : socket_(h.transport().open({})), clock_(h.network().clock()) {}

  asio::awaitable<void> send(const bytes& d, const endpoint& to) {
    co_await socket_.async_send_to(asio::buffer(d), to, asio::use_awaitable);
  }
  // The next datagram, or nullopt after `timeout`; `from` receives its source.
  asio::awaitable<std::optional<bytes>> receive(std::chrono::milliseconds timeout = 1000ms, endpoint* from = nullptr) {
    using namespace asio::experimental::awaitable_operators;
    punch::timer timer(co_await asio::this_coro::executor, clock_, timeout);
    endpoint source;
    auto r = co_await (socket_.async_receive_from(asio::buffer(buf_), source, asio::use_awaitable) ||
                       timer.async_wait(asio::use_awaitable));
    if (r.index() != 0) co_return std::nullopt;
    if (from) *from = source;
    co_return bytes(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(std::get<0>(r)));
  }
  asio::awaitable<std::optional<answer>> exchange(const bytes& request, const endpoint& to) {
    co_await send(request, to);
    auto d = co_await receive();
    BOOST_TEST_REQUIRE(d.has_value(), "no answer from the relay");
    BOOST_TEST(d->size() <= request.size());
    co_return parse(*d);
  }
  // The session's way: 401 with a NONCE, then the ALLOCATE with it.
  asio::awaitable<std::optional<answer>> allocate(punch::relay_id id, endpoint relay) {
    auto challenge = co_await exchange(allocate_request(id), relay);
    BOOST_TEST_REQUIRE(challenge.has_value());
    BOOST_TEST_REQUIRE(challenge->error_code() == 401);
    co_return co_await exchange(allocate_request(id, challenge->nonce()), relay);
  }
  punch::datagram_socket& socket() { return socket_; }

private:
  punch::datagram_socket socket_;
  punch::clock& clock_;  // the network's: timeouts are virtual
  std::array<std::byte, 4096> buf_{};
};

struct world {
  world()
      : net(ctx.get_executor(), 42),
        relay_host(net.add_host("relay", net.internet(), asio::ip::make_address("203.0.113.5"), link)),
        relay_socket(relay_host.transport().open({{}, 3479})),
        relay(relay_socket, options()) {
    relay.on_event([this](const punch::relay_event& e) {
      events.push_back(e);
      if (e.what == punch::relay_event::kind::expired && on_expired) on_expired();
    });
  }
  ~world() {
    on_expired = nullptr;  // it may point at the test's locals, gone by now
    relay_socket.close();
    ctx.restart();
    sim::run(ctx, net.virtual_time(), {}, {.time = 1s});
  }
  punch::relay_options options() {
    punch::relay_options o;
    o.clock = &net.clock();
    o.expiry_interval = 10ms;
    return o;
  }
  // A host behind its own NAT of preset `nat` ("symmetric", "port-restricted-cone", ...), or
  // on the internet when `nat` is empty.
  sim::host& host(const std::string& name, const std::string& nat, const char* address) {
    if (nat.empty()) return net.add_host(name, net.internet(), asio::ip::make_address(address), link);
    auto& box = net.add_nat("nat-" + name, net.internet(), asio::ip::make_address(address), *sim::nat_behaviour::preset(nat), link);
    return net.add_host(name, box.inside(), asio::ip::make_address("10.0.0.2"), link);
  }
  endpoint relay_endpoint() const { return ep("203.0.113.5", 3479); }

  // Runs the relay and `test` until the test ends (within `limit` of virtual time);
  // rethrows what the test threw.
  void run(std::function<asio::awaitable<void>()> test, std::chrono::seconds limit = 20s) {
    bool done = false;
    std::exception_ptr failure;
    asio::co_spawn(ctx, relay.run(), [&](std::exception_ptr e) {
      if (e) failure = e;
    });
    asio::co_spawn(ctx, test(), [&](std::exception_ptr e) {
      done = true;
      if (e) failure = e;
    });
    const auto r = sim::run(ctx, net.virtual_time(), [&] { return done; }, {.time = limit});
    BOOST_TEST_REQUIRE(done, "the test did not finish: " << sim::to_string(r.outcome));
    if (failure) std::rethrow_exception(failure);
  }

  asio::io_context ctx;
  sim::network net;
  sim::link link{std::chrono::milliseconds(2), {}, 0.0};
  sim::host& relay_host;
  punch::datagram_socket relay_socket;
  punch::relay relay;
  std::vector<punch::relay_event> events;
  std::function<void()> on_expired;
};

const punch::relay_id pair_id = make_relay_id(3);

}  // namespace

BOOST_AUTO_TEST_CASE(peers_behind_nats_that_cannot_punch_reach_each_other_through_the_relay) {
  world w;
  peer alice(w.host("alice", "symmetric", "198.51.100.20"));
  peer bob(w.host("bob", "port-restricted-cone", "198.51.100.30"));
  w.run([&]() -> asio::awaitable<void> {
    auto a = co_await alice.allocate(pair_id, w.relay_endpoint());
    BOOST_TEST_REQUIRE((a && a->cls() == stun::message_class::success_response));
    // The relay reports the NAT's mapping, not the private address.
    BOOST_TEST(a->mapped()->address() == asio::ip::make_address("198.51.100.20"));
    auto b = co_await bob.allocate(pair_id, w.relay_endpoint());
    BOOST_TEST_REQUIRE((b && b->cls() == stun::message_class::success_response));

    for (std::size_t size : {1u, 72u, 1229u}) {
      bytes d(size);
      for (std::size_t i = 0; i < size; ++i) d[i] = std::byte((i * 31 + size) & 0xFF);
      co_await alice.send(d, w.relay_endpoint());
      endpoint from;
      auto got = co_await bob.receive(1000ms, &from);
      BOOST_TEST_REQUIRE(got.has_value(), "bob got nothing through the relay");
      BOOST_TEST((*got == d));
      BOOST_TEST(from == w.relay_endpoint());
      std::reverse(d.begin(), d.end());
      co_await bob.send(d, w.relay_endpoint());
      got = co_await alice.receive(1000ms, &from);
      BOOST_TEST_REQUIRE(got.has_value(), "alice got nothing through the relay");
      BOOST_TEST((*got == d));
      BOOST_TEST(from == w.relay_endpoint());
    }
    BOOST_TEST(w.relay.stats().forwarded == 6u);
    BOOST_TEST(w.relay.stats().pairs == 1u);
  });
}

BOOST_AUTO_TEST_CASE(a_third_source_is_refused_and_a_stranger_gets_nothing_forwarded) {
  world w;
  peer alice(w.host("alice", "", "198.51.100.20"));
  peer bob(w.host("bob", "", "198.51.100.30"));
  peer carol(w.host("carol", "full-cone", "198.51.100.40"));
  peer eve(w.host("eve", "", "198.51.100.50"));
  w.run([&]() -> asio::awaitable<void> {
    BOOST_TEST_REQUIRE((co_await alice.allocate(pair_id, w.relay_endpoint())).has_value());
    BOOST_TEST_REQUIRE((co_await bob.allocate(pair_id, w.relay_endpoint())).has_value());
    auto c = co_await carol.allocate(pair_id, w.relay_endpoint());
    BOOST_TEST_REQUIRE(c.has_value());
    BOOST_TEST(c->error_code() == 403);
    // Carol (refused) and Eve (never asked) send frames: neither side gets anything.
    const bytes frame(60, std::byte{0xD0});
    co_await carol.send(frame, w.relay_endpoint());
    co_await eve.send(frame, w.relay_endpoint());
    BOOST_TEST(!(co_await alice.receive(300ms)).has_value());
    BOOST_TEST(!(co_await bob.receive(1ms)).has_value());
    BOOST_TEST(w.relay.stats().dropped_unknown == 2u);
    BOOST_TEST(w.relay.stats().forwarded == 0u);
  });
}

BOOST_AUTO_TEST_CASE(an_idle_allocation_expires_on_the_network_clock) {
  world w;
  peer alice(w.host("alice", "", "198.51.100.20"));
  peer bob(w.host("bob", "", "198.51.100.30"));
  punch::timer expired(w.ctx.get_executor(), w.net.clock());
  std::optional<punch::clock::time_point> expired_at;
  w.on_expired = [&] {
    expired_at = w.net.now();
    expired.cancel();
  };
  w.run([&]() -> asio::awaitable<void> {
    BOOST_TEST_REQUIRE((co_await alice.allocate(pair_id, w.relay_endpoint())).has_value());
    BOOST_TEST_REQUIRE((co_await bob.allocate(pair_id, w.relay_endpoint())).has_value());
    // Bob's ALLOCATE reached the relay one 2 ms link before its answer came back.
    const auto last_heard = w.net.now() - 2ms;
    // Nothing more is sent. The sweep (every 10 ms of the network's time) drops the pair
    // once it has been idle for its 60 s lifetime; its event wakes us.
    expired.expires_after(2min);
    co_await expired.async_wait(asio::as_tuple(asio::use_awaitable));
    BOOST_TEST_REQUIRE(w.relay.stats().expired == 1u, "no expiry within 2 min");
    BOOST_TEST_REQUIRE(expired_at.has_value());
    BOOST_TEST((*expired_at - last_heard >= 60s));
    BOOST_TEST((*expired_at - last_heard <= 60s + 10ms));  // at the first sweep after
    BOOST_TEST(w.relay.allocations() == 0u);
    BOOST_TEST((w.events.back().what == punch::relay_event::kind::expired));
    co_await alice.send(bytes(60, std::byte{0xD0}), w.relay_endpoint());
    BOOST_TEST(!(co_await bob.receive(300ms)).has_value(), "forwarded after expiry");
  }, 3min);
}

BOOST_AUTO_TEST_SUITE_END()  // relay_sim_test
