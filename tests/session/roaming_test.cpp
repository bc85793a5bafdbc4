// Connections survive the network changing under them (issue 13): a NAT that reboots and
// maps again on other ports, a host whose address changes, a relayed pair; a spoofed or
// replayed datagram never moves a path; a connection that cannot recover closes with
// errc::timeout after its idle timeout instead of staying open and dead.
#include "session_test_support.hpp"
#include "sim_world.hpp"
#include "tap_transport.hpp"

#include "punch/wire/protocol.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(roaming_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace punch;
using namespace punch::test;
using namespace boost::asio::experimental::awaitable_operators;
namespace asio = boost::asio;
using steady_clock = punch::clock;  // the world's virtual time: read through world_clock()

namespace {

session_options defaults_with_relay(const sim_world& w) {
  session_options o;
  o.relay = w.relay_endpoint();
  return o;
}

// Two apps that each send a numbered line every 250 ms and read what the other sends, as the
// issue's users did; `move` happens `move_after` into the exchange. Records when each side
// first hears the other after the move, measured from the first line it sent after it.
struct chatter {
  int sent_after_move_a = 0, sent_after_move_b = 0;
  std::optional<steady_clock::time_point> moved_at, first_sent_after_a, first_sent_after_b;
  std::optional<steady_clock::time_point> heard_after_a, heard_after_b;
  std::vector<std::string> heard_by_a, heard_by_b;
};

asio::awaitable<void> talk(connection c, std::string name, chatter& log, bool alice, std::chrono::milliseconds duration) {
  punch::timer t(co_await asio::this_coro::executor, punch::test::world_clock());
  const auto until = punch::test::world_clock().now() + duration;
  for (int i = 0; punch::test::world_clock().now() < until; ++i) {
    co_await send_text(c, name + "-" + std::to_string(i));
    if (log.moved_at) {
      auto& first = alice ? log.first_sent_after_a : log.first_sent_after_b;
      if (!first) first = punch::test::world_clock().now();
      ++(alice ? log.sent_after_move_a : log.sent_after_move_b);
    }
    t.expires_after(250ms);
    co_await t.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<void> listen(connection c, chatter& log, bool alice, std::chrono::milliseconds duration) {
  punch::timer t(co_await asio::this_coro::executor, punch::test::world_clock(), duration);
  auto loop = [&]() -> asio::awaitable<void> {
    for (;;) {
      auto text = co_await receive_text(c);
      (alice ? log.heard_by_a : log.heard_by_b).push_back(text);
      auto& heard = alice ? log.heard_after_a : log.heard_after_b;
      if (log.moved_at && !heard) heard = punch::test::world_clock().now();
    }
  };
  co_await (loop() || t.async_wait(asio::use_awaitable));
}

// alice and bob connect, chat for `total`, and `move()` runs `move_after` in.
template <typename Move>
chatter chat_across_a_move(sim_world& w, session& alice, session& bob, Move move,
                           std::chrono::milliseconds move_after = 2s, std::chrono::milliseconds total = 9s) {
  chatter log;
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
    auto mover = [&]() -> asio::awaitable<void> {
      punch::timer t(co_await asio::this_coro::executor, punch::test::world_clock(), move_after);
      co_await t.async_wait(asio::use_awaitable);
      move();
      log.moved_at = punch::test::world_clock().now();
    };
    co_await (mover() && talk(ca, "a", log, true, total) && talk(cb, "b", log, false, total) &&
              listen(ca, log, true, total + 500ms) && listen(cb, log, false, total + 500ms));
    BOOST_CHECK(ca.is_open());
    BOOST_CHECK(cb.is_open());
  }(), 60s);
  return log;
}

// Data flows again both ways within 5 s of the first line sent after the move.
void check_recovered(const chatter& log) {
  BOOST_REQUIRE(log.moved_at);
  BOOST_REQUIRE(log.first_sent_after_a && log.first_sent_after_b);
  BOOST_REQUIRE_MESSAGE(log.heard_after_a, "alice never heard bob again after the move");
  BOOST_REQUIRE_MESSAGE(log.heard_after_b, "bob never heard alice again after the move");
  const auto a = std::chrono::duration_cast<std::chrono::milliseconds>(*log.heard_after_a - *log.first_sent_after_b);
  const auto b = std::chrono::duration_cast<std::chrono::milliseconds>(*log.heard_after_b - *log.first_sent_after_a);
  BOOST_TEST_MESSAGE("recovered: bob -> alice in " << a.count() << " ms, alice -> bob in " << b.count() << " ms");
  BOOST_CHECK_LT(a.count(), 5000);
  BOOST_CHECK_LT(b.count(), 5000);
}

struct event_counter {
  int lost = 0, changed = 0;
  void watch(session& s) {
    s.on_event([this](const session_event& e) {
      if (e.what == session_event::kind::path_lost) ++lost;
      if (e.what == session_event::kind::path_changed) ++changed;
    });
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(roaming)

// The case: two port-restricted NATs; alice's NAT reboots and maps her on other ports.
// Only a re-introduction through the broker opens bob's NAT to her new port.
BOOST_AUTO_TEST_CASE(a_nat_that_reboots_under_port_restricted_peers_loses_nothing_after_five_seconds) {
  sim_world w(7);
  auto& alice_host = w.add_peer_host("alice", "port-restricted-cone");
  auto& alice = w.add_session(alice_host, "alice");
  auto& bob = w.add_session(w.add_peer_host("bob", "port-restricted-cone"), "bob");
  event_counter ea, eb;
  ea.watch(alice);
  eb.watch(bob);
  auto log = chat_across_a_move(w, alice, bob, [&] { w.net.find_nat("nat-alice")->reboot(); });
  check_recovered(log);
  BOOST_CHECK_GE(ea.lost, 1);
  BOOST_CHECK_GE(ea.changed + eb.changed, 1);
  BOOST_CHECK_GE(alice.stats().resumes_requested, 1u);  // she moved: she asked at once
}

// Symmetric against port-restricted connects by port prediction; after the symmetric NAT
// reboots, the re-introduction predicts again.
BOOST_AUTO_TEST_CASE(a_symmetric_nat_that_reboots_against_a_port_restricted_one_recovers_by_prediction) {
  sim_world w(8);
  auto& alice = w.add_session(w.add_peer_host("alice", "symmetric"), "alice");
  auto& bob = w.add_session(w.add_peer_host("bob", "port-restricted-cone"), "bob");
  auto log = chat_across_a_move(w, alice, bob, [&] { w.net.find_nat("nat-alice")->reboot(); }, 2s, 10s);
  check_recovered(log);
}

// Two symmetric NATs talk through the relay; when one reboots, the pair finds the relay again.
BOOST_AUTO_TEST_CASE(a_relayed_pair_recovers_through_the_relay_after_a_reboot) {
  sim_world w(9);
  w.start_relay();
  auto& alice = w.add_session(w.add_peer_host("alice", "symmetric"), "alice", defaults_with_relay(w));
  auto& bob = w.add_session(w.add_peer_host("bob", "symmetric"), "bob", defaults_with_relay(w));
  auto log = chat_across_a_move(w, alice, bob, [&] { w.net.find_nat("nat-alice")->reboot(); });
  check_recovered(log);
}

// No NAT: alice's machine gets another address (a new DHCP lease).
BOOST_AUTO_TEST_CASE(a_host_whose_address_changes_keeps_its_connection) {
  sim_world w(10);
  auto& alice_host = w.add_peer_host("alice", "none");
  auto& alice = w.add_session(alice_host, "alice");
  auto& bob = w.add_session(w.add_peer_host("bob", "port-restricted-cone"), "bob");
  auto log = chat_across_a_move(w, alice, bob, [&] { w.net.move_host(alice_host, addr("198.51.100.77")); });
  check_recovered(log);
  BOOST_CHECK_EQUAL(alice.local_endpoint().address(), addr("198.51.100.77"));
}

// Both NATs reboot at once: each side moved, each asks, and they still meet.
BOOST_AUTO_TEST_CASE(both_nats_rebooting_at_once_still_recover) {
  sim_world w(11);
  auto& alice = w.add_session(w.add_peer_host("alice", "port-restricted-cone"), "alice");
  auto& bob = w.add_session(w.add_peer_host("bob", "restricted-cone"), "bob");
  auto log = chat_across_a_move(w, alice, bob, [&] {
    w.net.find_nat("nat-alice")->reboot();
    w.net.find_nat("nat-bob")->reboot();
  });
  check_recovered(log);
}

// Without the broker there is no re-introduction: the connection does not stay open and dead,
// it closes with errc::timeout once nothing was heard for the idle timeout.
BOOST_AUTO_TEST_CASE(a_connection_that_cannot_recover_closes_with_timeout_after_the_idle_timeout) {
  sim_world w(12);
  session_options o;
  o.connection_idle_timeout = 4s;
  auto& alice = w.add_session(w.add_peer_host("alice", "port-restricted-cone"), "alice", o);
  auto& bob = w.add_session(w.add_peer_host("bob", "port-restricted-cone"), "bob", o);
  error_code alice_end, bob_end;
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
    w.brokers.back()->socket.close();  // the broker is gone for good
    w.net.find_nat("nat-alice")->reboot();
    auto ends = [](connection c, error_code& out) -> asio::awaitable<void> {
      try {
        for (;;) co_await receive_text(c);
      } catch (const system_error& e) {
        out = e.code();
      }
    };
    co_await send_text(ca, "into the void");
    co_await (ends(ca, alice_end) && ends(cb, bob_end));
  }(), 30s);
  BOOST_CHECK_EQUAL(alice_end, make_error_code(errc::timeout));
  BOOST_CHECK_EQUAL(bob_end, make_error_code(errc::timeout));
  BOOST_CHECK_GE(alice.stats().paths_lost, 1u);
}

// mallory, a third host on the internet, sees bob's frames (a copy of each, as a tap on the
// path would) and sends them on to alice from her own address, first and unaltered (a race
// with the original), and forged frames with the connection's tag. alice delivers the data
// she can authenticate, probes mallory's address, gets no answer from there, and keeps her
// path: it never moves to mallory.
BOOST_AUTO_TEST_CASE(a_spoofed_or_replayed_datagram_from_a_third_host_never_moves_a_path) {
  sim_world w(13);
  auto& mallory_host = w.add_peer_host("mallory", "none");
  auto mallory = mallory_host.transport().open({{}, 4444});
  auto& alice = w.add_session(w.add_peer_host("alice", "full-cone"), "alice");
  auto& bob_host = w.add_peer_host("bob", "full-cone");
  std::vector<std::pair<std::vector<std::byte>, endpoint>> copies;
  bool tapping = false;
  tap_transport tap(bob_host.transport(), [&](std::vector<std::byte>& d, const endpoint& to) {
    if (tapping && wire::looks_like_frame(d) && wire::frame_kind_of(d) == wire::frame_kind::data) copies.emplace_back(d, to);
    return 1;
  });
  session_options o;
  o.broker = w.broker_endpoint();
  o.id = "bob";
  o.clock = &w.net.clock();
  session bob(tap, o);
  int alice_changes = 0;
  alice.on_event([&](const session_event& e) { alice_changes += e.what == session_event::kind::path_changed; });
  std::vector<std::string> heard;
  endpoint alice_path_before, alice_path_after;
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
    alice_path_before = ca.remote_endpoint();
    tapping = true;
    for (int i = 0; i < 5; ++i) co_await send_text(cb, "bob-" + std::to_string(i));
    tapping = false;
    // mallory resends each copy from her address (alice already has the originals: replays),
    // then a frame whose counter is new but whose seal is forged.
    for (auto& [bytes, to] : copies)
      co_await mallory.async_send_to(asio::buffer(bytes), to, asio::as_tuple(asio::use_awaitable));
    auto forged = copies.back().first;
    forged[12] = std::byte{0x7F};  // counter's last byte: fresh
    co_await mallory.async_send_to(asio::buffer(forged), copies.back().second, asio::as_tuple(asio::use_awaitable));
    for (int i = 0; i < 5; ++i) heard.push_back(co_await receive_text(ca));
    // Time for any probe to mallory, and its missing answer.
    punch::timer t(co_await asio::this_coro::executor, punch::test::world_clock(), 1s);
    co_await t.async_wait(asio::use_awaitable);
    alice_path_after = ca.remote_endpoint();
    co_await send_text(ca, "still there?");
    BOOST_CHECK_EQUAL(co_await receive_text(cb), "still there?");
  }());
  BOOST_CHECK_EQUAL(heard.size(), 5u);
  BOOST_CHECK_EQUAL(alice_path_after, alice_path_before);
  BOOST_CHECK_EQUAL(alice_changes, 0);
  BOOST_CHECK_GE(alice.stats().frames_replayed, 5u);
  BOOST_CHECK_GE(alice.stats().frames_rejected, 1u);
  BOOST_CHECK_EQUAL(alice.stats().paths_changed, 0u);
  bob.close();
}

// The race the replay window cannot catch, while alice's path is quiet (bob's frames to her
// are lost for a while, as when a path is about to change): mallory's copy of bob's next
// frame arrives before the original. alice takes the data (it is authentic) and probes
// mallory's address; bob never answers from there, so the path stays.
BOOST_AUTO_TEST_CASE(a_frame_that_wins_the_race_from_another_address_is_delivered_but_does_not_move_the_path) {
  sim_world w(14);
  auto& mallory_host = w.add_peer_host("mallory", "none");
  auto mallory = mallory_host.transport().open({{}, 4444});
  auto& alice = w.add_session(w.add_peer_host("alice", "full-cone"), "alice");
  auto& bob_host = w.add_peer_host("bob", "full-cone");
  bool blocking = false, diverting = false;
  tap_transport tap(bob_host.transport(), [&](std::vector<std::byte>& d, const endpoint& to) {
    if (!wire::looks_like_frame(d)) return 1;
    if (diverting && wire::frame_kind_of(d) == wire::frame_kind::data) {
      diverting = false;
      // The original is held back; mallory sends the copy first.
      auto copy = std::make_shared<std::vector<std::byte>>(d);
      mallory.async_send_to(asio::buffer(*copy), to, [copy](error_code, std::size_t) {});
      return 0;
    }
    return blocking ? 0 : 1;
  });
  session_options o;
  o.broker = w.broker_endpoint();
  o.id = "bob";
  o.clock = &w.net.clock();
  session bob(tap, o);
  endpoint before, after;
  std::string heard;
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
    before = ca.remote_endpoint();
    // alice keeps sending and hears nothing for 1.2 s: her path is quiet (not lost yet).
    blocking = true;
    punch::timer t(co_await asio::this_coro::executor, punch::test::world_clock());
    for (int i = 0; i < 12; ++i) {
      co_await send_text(ca, "anyone?");
      t.expires_after(100ms);
      co_await t.async_wait(asio::use_awaitable);
    }
    diverting = true;
    co_await send_text(cb, "via mallory");
    heard = co_await receive_text(ca);
    t.expires_after(300ms);  // mallory's probe goes unanswered
    co_await t.async_wait(asio::use_awaitable);
    after = ca.remote_endpoint();
    blocking = false;
    co_await send_text(cb, "direct");
    std::string next;
    do next = co_await receive_text(ca); while (next != "direct");
  }());
  BOOST_CHECK_EQUAL(heard, "via mallory");
  BOOST_CHECK_EQUAL(after, before);
  BOOST_CHECK_GE(alice.stats().path_validations, 1u);  // mallory's address was probed
  BOOST_CHECK_EQUAL(alice.stats().paths_changed, 0u);
  bob.close();
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()  // roaming_test
