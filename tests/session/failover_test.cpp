// Peer failover (issue 16): a session given several brokers registers at the first that
// answers, and when its broker dies it registers at the next one within one keepalive plus
// one request timeout, while its established connections keep delivering; peers that use
// only the surviving broker then reach it there. Virtual time: every bound is exact.
#include "session_test_support.hpp"
#include "sim_world.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(failover_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace punch;
using namespace punch::test;
using namespace boost::asio::experimental::awaitable_operators;
namespace asio = boost::asio;

namespace {

const char* const second_broker_address = "203.0.113.3";
endpoint second_broker() { return {addr(second_broker_address), 3478}; }

// Short periods, so that a scenario takes seconds of virtual time.
session_options two_brokers() {
  session_options o = quick();
  o.keepalive = 2s;
  o.request_timeout = 2s;
  o.fallback_brokers = {broker_address{second_broker(), std::nullopt}};
  return o;
}

// When a session said it changed broker, and to which.
struct broker_changes {
  std::vector<std::pair<punch::clock::time_point, session_event>> seen;
  // Our NAT's mapping as the last refresh reported it (measured beside the registration).
  nat_mapping nat = nat_mapping::unknown;
  void watch(session& s) {
    s.on_event([this](const session_event& e) {
      if (e.what == session_event::kind::broker_changed) seen.emplace_back(world_clock().now(), e);
      if (e.what == session_event::kind::refreshed) nat = e.nat;
    });
  }
};

// Sends a numbered line every 200 ms for `duration`; the other side records what it hears.
asio::awaitable<void> talk(connection c, std::string name, std::chrono::milliseconds duration) {
  punch::timer t(co_await asio::this_coro::executor, world_clock());
  const auto until = world_clock().now() + duration;
  for (int i = 0; world_clock().now() < until; ++i) {
    co_await send_text(c, name + "-" + std::to_string(i));
    t.expires_after(200ms);
    co_await t.async_wait(asio::use_awaitable);
  }
}

struct heard {
  std::vector<std::pair<punch::clock::time_point, std::string>> lines;
};

asio::awaitable<void> listen(connection c, heard& log, std::chrono::milliseconds duration) {
  punch::timer t(co_await asio::this_coro::executor, world_clock(), duration);
  auto loop = [&]() -> asio::awaitable<void> {
    for (;;) log.lines.emplace_back(world_clock().now(), co_await receive_text(c));
  };
  co_await (loop() || t.async_wait(asio::use_awaitable));
}

std::size_t heard_after(const heard& h, punch::clock::time_point t) {
  std::size_t n = 0;
  for (const auto& [at, line] : h.lines) n += at > t;
  return n;
}

session& add_session_at(sim_world& w, sim::host& h, const std::string& id, session_options o) {
  o.id = id;
  o.clock = &w.net.clock();
  w.sessions.push_back(std::make_unique<session>(h.transport(), o));
  return *w.sessions.back();
}

}  // namespace

// The test in the simulated network: b1 dies under two connected peers.
BOOST_AUTO_TEST_CASE(when_the_broker_dies_both_peers_move_to_the_next_within_keepalive_plus_request_timeout) {
  sim_world w(16);
  w.start_broker_on_host("broker2", second_broker_address);
  const session_options o = two_brokers();
  auto& alice = add_session_at(w, w.add_peer_host("alice", "port-restricted-cone"), "alice",
                               [&] { auto a = o; a.broker = w.broker_endpoint(); return a; }());
  auto& bob = add_session_at(w, w.add_peer_host("bob", "port-restricted-cone"), "bob",
                             [&] { auto b = o; b.broker = w.broker_endpoint(); return b; }());
  // carol knows only the second broker.
  session_options c = quick();
  c.broker = second_broker();
  auto& carol = add_session_at(w, w.add_peer_host("carol", "port-restricted-cone"), "carol", c);
  broker_changes alice_moves, bob_moves;
  alice_moves.watch(alice);
  bob_moves.watch(bob);
  heard alice_heard, bob_heard;
  std::optional<punch::clock::time_point> killed_at;
  const auto bound = o.keepalive + o.request_timeout;

  w.run([&]() -> asio::awaitable<void> {
    auto [ra, rb] = co_await (alice.register_self() && bob.register_self());
    BOOST_TEST(ra.broker == w.broker_endpoint());
    BOOST_TEST(rb.broker == w.broker_endpoint());
    auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
    auto killer = [&]() -> asio::awaitable<void> {
      punch::timer t(co_await asio::this_coro::executor, world_clock(), 1s);
      co_await t.async_wait(asio::use_awaitable);
      w.kill_first_broker();
      killed_at = world_clock().now();
    };
    // Long enough for both to move (at most `bound` after the kill), and then some.
    const auto chat = 1s + bound + 2s;
    co_await (killer() && talk(ca, "a", chat) && talk(cb, "b", chat) && listen(ca, alice_heard, chat + 500ms) &&
              listen(cb, bob_heard, chat + 500ms));
    BOOST_TEST(ca.is_open());
    BOOST_TEST(cb.is_open());
    // Lookups go to the broker the session uses now: the dead one would not answer.
    auto found = co_await alice.lookup("bob");
    BOOST_TEST(found.id == "bob");
    // carol, at the second broker only, reaches bob there.
    co_await carol.register_self();
    auto [cc, cbob] = co_await (carol.connect("bob") && bob.accept());
    co_await send_text(cc, "hello bob");
    BOOST_TEST(co_await receive_text(cbob) == "hello bob");
    co_await send_text(cbob, "hello carol");
    BOOST_TEST(co_await receive_text(cc) == "hello carol");
  }(), 60s);

  BOOST_REQUIRE(killed_at);
  for (auto* moves : {&alice_moves, &bob_moves}) {
    BOOST_REQUIRE_EQUAL(moves->seen.size(), 1u);
    const auto& [at, e] = moves->seen.front();
    BOOST_TEST(e.address == second_broker());
    BOOST_TEST((e.error == errc::broker_unreachable));
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(at - *killed_at);
    BOOST_TEST_MESSAGE(e.peer << " moved to the second broker " << took.count() << " ms after the first died (bound "
                              << bound.count() << " ms)");
    BOOST_TEST(took.count() <= bound.count());
    // It noticed at a refresh, and the silence it reports covers the move (an answer on its
    // way when the broker died lands up to a one-way trip after).
    BOOST_TEST(took.count() > 0);
    BOOST_TEST((e.elapsed >= took - 50ms));
  }
  BOOST_TEST(alice.broker() == second_broker());
  BOOST_TEST(bob.broker() == second_broker());
  // The connection never needed the broker: each side heard the other all along, after both moved.
  const auto both_moved = std::max(alice_moves.seen.front().first, bob_moves.seen.front().first);
  BOOST_TEST(heard_after(alice_heard, *killed_at) >= 20u);
  BOOST_TEST(heard_after(bob_heard, *killed_at) >= 20u);
  BOOST_TEST(heard_after(alice_heard, both_moved) >= 5u);
  BOOST_TEST(heard_after(bob_heard, both_moved) >= 5u);
}

// Dead at the start: the first broker costs one request timeout, the second takes us, and our
// NAT is measured against the second broker's own second port.
BOOST_AUTO_TEST_CASE(a_first_broker_dead_at_the_start_costs_one_request_timeout_and_the_second_takes_us) {
  sim_world w(17);
  w.start_broker_on_host("broker2", second_broker_address);
  w.kill_first_broker();
  session_options o = two_brokers();
  o.broker = w.broker_endpoint();
  auto& alice = add_session_at(w, w.add_peer_host("alice", "port-restricted-cone"), "alice", o);
  broker_changes moves;
  moves.watch(alice);
  std::optional<registration_info> reg;
  const auto took = w.run([&]() -> asio::awaitable<void> { reg = co_await alice.register_self(); }());
  BOOST_REQUIRE(reg);
  BOOST_TEST(reg->broker == second_broker());
  BOOST_TEST(alice.broker() == second_broker());
  BOOST_TEST(reg->reflexive.address() == addr("198.51.100.101"));
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(took);
  // Measured beside the registration, against the second broker's second port.
  w.settle(std::chrono::seconds(2));
  BOOST_TEST(to_string(moves.nat) == std::string("easy"));
  BOOST_TEST_MESSAGE("registered at the second broker after " << ms.count() << " ms (request timeout "
                                                                 << o.request_timeout.count() << " ms)");
  // The first was given exactly its request timeout; the second answered within a few round trips.
  BOOST_TEST(ms.count() >= o.request_timeout.count());
  BOOST_TEST(ms.count() <= (o.request_timeout + 250ms).count());
  // Not a change: this is where the session started out registered.
  BOOST_TEST(moves.seen.empty());
}

// Each broker has its own address of the other family: a dual-stack session that passes over
// the first broker registers over both families at the second.
BOOST_AUTO_TEST_CASE(a_dual_stack_session_registers_over_both_families_at_the_broker_it_falls_back_on) {
  sim_world w(19);
  w.enable_ipv6();
  w.start_broker_on_host("broker2", second_broker_address, "2001:db8::3");
  w.kill_first_broker();
  auto& h = w.add_dual_stack_host("alice", "port-restricted-cone");
  session_options o = w.dual_stack(two_brokers());
  o.broker = w.broker_endpoint();
  o.fallback_brokers = {broker_address{second_broker(), endpoint{addr("2001:db8::3"), 3478}}};
  auto& alice = add_session_at(w, h, "alice", o);
  std::optional<registration_info> reg;
  w.run([&]() -> asio::awaitable<void> { reg = co_await alice.register_self(); }());
  BOOST_REQUIRE(reg);
  BOOST_TEST(reg->broker == second_broker());
  BOOST_REQUIRE(reg->reflexive_other);
  BOOST_TEST(reg->reflexive_other->address().is_v6());
  BOOST_TEST(reg->reflexive.address().is_v4());
}

// A lookup waiting for the dead broker when the session moves ends then, with a message that
// names both brokers, rather than at its own deadline.
BOOST_AUTO_TEST_CASE(a_request_pending_at_the_move_ends_at_once_naming_the_broker_left_and_the_one_taken) {
  sim_world w(20);
  w.start_broker_on_host("broker2", second_broker_address);
  session_options o = two_brokers();
  o.broker = w.broker_endpoint();
  o.keepalive = 1s;  // the move comes well before the lookup's 5 s deadline
  o.request_timeout = 5s;
  auto& alice = add_session_at(w, w.add_peer_host("alice", "full-cone"), "alice", o);
  std::string message;
  error_code code, then;
  std::chrono::milliseconds waited{0};
  w.run([&]() -> asio::awaitable<void> {
    co_await alice.register_self();
    w.kill_first_broker();
    const auto asked = world_clock().now();
    try {
      co_await alice.lookup("bob");
    } catch (const system_error& e) {
      code = e.code();
      message = e.what();
    }
    waited = std::chrono::duration_cast<std::chrono::milliseconds>(world_clock().now() - asked);
    // Asked again, it goes to the new broker, which answers (bob is registered nowhere).
    auto [ec, info] = co_await alice.lookup("bob", asio::as_tuple(asio::use_awaitable));
    then = ec;
  }());
  BOOST_TEST((code == errc::broker_unreachable), code.message());
  BOOST_TEST(message.find("203.0.113.1:3478 stopped answering") != std::string::npos, message);
  BOOST_TEST(message.find("moved to broker 203.0.113.3:3478") != std::string::npos, message);
  BOOST_TEST(waited.count() < o.request_timeout.count());
  BOOST_TEST(alice.broker() == second_broker());
  BOOST_TEST((then == errc::peer_not_found), then.message());
}

// Nobody answers: register_self fails after giving each broker its request timeout, and its
// message names them all.
BOOST_AUTO_TEST_CASE(when_no_broker_answers_register_self_fails_naming_each) {
  sim_world w(18);
  w.kill_first_broker();
  session_options o = two_brokers();  // the second broker was never started
  o.broker = w.broker_endpoint();
  auto& alice = add_session_at(w, w.add_peer_host("alice", "full-cone"), "alice", o);
  std::string message;
  error_code code;
  const auto took = w.run([&]() -> asio::awaitable<void> {
    try {
      co_await alice.register_self();
    } catch (const system_error& e) {
      code = e.code();
      message = e.what();
    }
  }());
  BOOST_TEST((code == errc::broker_unreachable), code.message());
  BOOST_TEST(message.find("203.0.113.1:3478") != std::string::npos, message);
  BOOST_TEST(message.find("203.0.113.3:3478") != std::string::npos, message);
  // Each was given the request timeout, one after the other.
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(took);
  BOOST_TEST((ms >= 2 * o.request_timeout && ms <= 2 * o.request_timeout + 10ms), ms.count() << " ms");
  // Nobody took us: the session stays with its first broker, to try again.
  BOOST_TEST(alice.broker() == w.broker_endpoint());
}

BOOST_AUTO_TEST_SUITE_END()
