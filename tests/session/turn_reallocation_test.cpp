// A TURN allocation that is lost while the session lives is made again (on the simulated
// network, so the refresh two minutes in and the backoff take no real time): a server that
// restarted answers the refresh with 437 and the session allocates anew at once; a server that
// went silent is tried again with a growing backoff, not in a tight loop, and allocated at
// when it answers again; each new relayed address reaches the broker; a session closed while
// it waits to try again leaves no timer behind.
#include "sim_world.hpp"

#include "punch/turn.hpp"
#include "punch/wire/turn.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(turn_reallocation_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace punch;
using namespace punch::test;
namespace asio = boost::asio;

namespace {

const auto key = turn::make_long_term_key("alice", "punch.test", "wonderland");

// A scripted TURN server on the simulated internet at 203.0.113.3:3478. It asks for the
// long-term credentials (401), grants each authenticated Allocate a new relayed port, and
// answers a Refresh with 437 when `restarted` (it forgot the allocation) or as a success;
// while `silent` it answers nothing. Counts what it was asked.
struct scripted_turn {
  explicit scripted_turn(sim_world& w)
      : socket(w.net.add_host("turn", w.net.internet(), addr("203.0.113.3"), w.link).transport().open({{}, 3478})) {
    asio::co_spawn(w.ctx, serve(), asio::detached);
  }
  ~scripted_turn() { socket.close(); }
  scripted_turn(const scripted_turn&) = delete;
  scripted_turn& operator=(const scripted_turn&) = delete;

  turn_server server() const {
    turn_server t;
    t.address = endpoint{addr("203.0.113.3"), 3478};
    t.user = "alice";
    t.password = "wonderland";
    return t;
  }

  asio::awaitable<void> serve() {
    std::array<std::byte, 2048> in;
    endpoint from;
    for (;;) {
      auto [e, n] = co_await socket.async_receive_from(asio::buffer(in), from, asio::as_tuple(asio::use_awaitable));
      if (e) co_return;
      error_code pe;
      auto m = stun::message::parse(std::span<const std::byte>(in.data(), n), pe);
      if (!m || m->cls() != stun::message_class::request || silent) continue;
      const bool authenticated = m->find(turn::attr::nonce) && turn::check_message_integrity(*m, key);
      std::array<std::byte, stun::max_message_size> buf;
      int code = 0;
      if (!authenticated)
        code = turn::error::unauthorized;
      else if (m->method() == turn::method::refresh && restarted)
        code = turn::error::allocation_mismatch;
      stun::builder b(buf, code ? stun::message_class::error_response : stun::message_class::success_response,
                      m->method(), m->id());
      if (code) b.add_error_code(code, "scripted");
      if (!authenticated) {
        b.add_string(turn::attr::realm, "punch.test");
        b.add_string(turn::attr::nonce, "n0nce");
      }
      if (authenticated && m->method() == turn::method::allocate) {
        ++grants;
        b.add_xor_address(turn::attr::xor_relayed_address, endpoint{addr("203.0.113.3"), static_cast<std::uint16_t>(40000 + grants)});
        b.add_u32(turn::attr::lifetime, 600);
      }
      if (m->method() == turn::method::refresh) ++refreshes;
      if (authenticated) turn::add_message_integrity(b, key);
      const auto out = b.finish_with_fingerprint();
      co_await socket.async_send_to(asio::buffer(out.data(), out.size()), from, asio::as_tuple(asio::use_awaitable));
    }
  }

  datagram_socket socket;
  bool restarted = false;
  bool silent = false;
  int grants = 0;
  int refreshes = 0;
};

// What alice's session reported of TURN, with the time of each.
struct turn_log {
  std::vector<endpoint> allocated;
  std::vector<punch::clock::time_point> failed_at;
  void watch(session& s) {
    s.on_event([this](const session_event& e) {
      if (e.what == session_event::kind::turn_allocated) allocated.push_back(e.address);
      if (e.what == session_event::kind::turn_failed) failed_at.push_back(world_clock().now());
    });
  }
};

// Lets `d` of the world's time pass.
asio::awaitable<void> pass(punch::clock::duration d) {
  punch::timer t(co_await asio::this_coro::executor, world_clock());
  t.expires_after(d);
  co_await t.async_wait(asio::use_awaitable);
}

session_options turn_options(const scripted_turn& t) {
  session_options o;
  o.turn_servers = {t.server()};
  o.request_timeout = 2s;
  return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_turn_server_that_restarted_answers_437_and_the_session_allocates_anew_at_once) {
  turn_log log;
  sim_world w;
  scripted_turn server(w);
  auto& alice = w.add_session(w.add_peer_host("alice", "full-cone"), "alice", turn_options(server));
  log.watch(alice);
  auto& bob = w.add_session(w.add_peer_host("bob", "full-cone"), "bob");
  std::vector<endpoint> seen_by_bob;
  w.run(
      [&]() -> asio::awaitable<void> {
        co_await alice.register_self();
        co_await bob.register_self();
        co_await pass(10s);
        BOOST_REQUIRE_EQUAL(log.allocated.size(), 1u);
        server.restarted = true;  // it forgets every allocation: the refresh (2 min in) gets 437
        co_await pass(150s);
        auto p = co_await bob.lookup("alice");
        seen_by_bob = p.host;  // the relayed address goes out as a host candidate
      }(),
      300s);
  BOOST_CHECK_EQUAL(server.refreshes, 1);
  BOOST_REQUIRE_EQUAL(log.failed_at.size(), 1u);  // the refresh's 437, and nothing after
  BOOST_REQUIRE_EQUAL(log.allocated.size(), 2u);  // and a new allocation at once
  BOOST_CHECK_EQUAL(server.grants, 2);
  BOOST_CHECK(log.allocated[0] != log.allocated[1]);
  // The broker hands out the new relayed address, not the lost one.
  BOOST_CHECK(std::find(seen_by_bob.begin(), seen_by_bob.end(), log.allocated[1]) != seen_by_bob.end());
  BOOST_CHECK(std::find(seen_by_bob.begin(), seen_by_bob.end(), log.allocated[0]) == seen_by_bob.end());
  alice.close();
}

BOOST_AUTO_TEST_CASE(a_turn_server_that_went_silent_is_tried_again_with_a_growing_backoff_until_it_answers) {
  turn_log log;
  sim_world w;
  scripted_turn server(w);
  auto& alice = w.add_session(w.add_peer_host("alice", "full-cone"), "alice", turn_options(server));
  log.watch(alice);
  punch::clock::time_point back_at{};
  w.run(
      [&]() -> asio::awaitable<void> {
        co_await alice.register_self();
        co_await pass(10s);
        server.silent = true;  // the refresh 2 min in goes unanswered, and every try after it
        co_await pass(290s);
        server.silent = false;
        back_at = world_clock().now();
        co_await pass(400s);
      }(),
      900s);
  // Tried again and again in the 3 minutes of silence after the refresh failed (at 5, 10, 20,
  // 40, 80 s intervals plus each try's own 2 s), not in a tight loop.
  const auto failures = log.failed_at.size();
  BOOST_TEST_MESSAGE("turn_failed events while the server was silent: " << failures);
  BOOST_CHECK_GE(failures, 5u);
  BOOST_CHECK_LE(failures, 8u);
  for (std::size_t i = 2; i < failures; ++i)
    BOOST_CHECK(log.failed_at[i] - log.failed_at[i - 1] > log.failed_at[i - 1] - log.failed_at[i - 2]);
  // Allocated again once it answers, within the longest wait so far (160 s) and a try.
  BOOST_REQUIRE_EQUAL(log.allocated.size(), 2u);
  BOOST_CHECK_EQUAL(server.grants, 2);
  BOOST_CHECK(log.failed_at.back() < back_at);
  alice.close();
}

BOOST_AUTO_TEST_CASE(a_session_closed_while_it_waits_to_allocate_again_leaves_no_timer_behind) {
  turn_log log;
  sim_world w;
  scripted_turn server(w);
  auto& alice = w.add_session(w.add_peer_host("alice", "full-cone"), "alice", turn_options(server));
  log.watch(alice);
  w.run(
      [&]() -> asio::awaitable<void> {
        co_await alice.register_self();
        co_await pass(10s);
        server.silent = true;
        // The refresh (120 s) fails at 122 s, the tries at once and 5 s later at 124 and 131 s;
        // the next waits 10 s.
        co_await pass(125s);
      }(),
      200s);
  BOOST_REQUIRE_EQUAL(log.allocated.size(), 1u);
  BOOST_REQUIRE_EQUAL(log.failed_at.size(), 3u);  // the refresh and two tries: waiting for the third
  alice.close();
  server.socket.close();
  w.kill_first_broker();  // its own timers end with it
  // Nothing is left to run: a retry timer the close did not cancel would hold the world until
  // it fires (6 s away here, up to 5 minutes in general).
  const auto r = w.settle(600s);
  BOOST_CHECK(r.outcome == sim::run_outcome::out_of_work);
  BOOST_CHECK(r.elapsed < 1s);
  BOOST_TEST_MESSAGE("settled after " << std::chrono::duration_cast<std::chrono::milliseconds>(r.elapsed).count() << " ms");
}

BOOST_AUTO_TEST_SUITE_END()  // turn_reallocation_test
