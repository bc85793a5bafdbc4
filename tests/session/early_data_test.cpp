// No data is lost at establishment (issue 13): what either side sends the moment connect() or
// accept() returns arrives, on every NAT pair, although the two sides finish the handshake at
// different times. The side that finishes second holds the frames that arrive before it did
// and delivers them once its handshake completes (docs/protocol.md, "Early data").
#include "session_test_support.hpp"
#include "sim_world.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(early_data_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace punch;
using namespace punch::test;
using namespace boost::asio::experimental::awaitable_operators;
namespace asio = boost::asio;

namespace {

// What a user's app does: send the moment the connection is handed over, then read.
struct first_words {
  std::optional<std::string> alice_heard, bob_heard;
  path_kind path{};
};

// The other side's first datagram, or nothing after `patience` (it was lost).
asio::awaitable<std::optional<std::string>> first_datagram(connection c, std::chrono::milliseconds patience) {
  punch::timer timer(co_await asio::this_coro::executor, punch::test::world_clock(), patience);
  auto r = co_await (receive_text(c) || timer.async_wait(asio::use_awaitable));
  if (r.index() == 0) co_return std::get<0>(r);
  co_return std::nullopt;
}

asio::awaitable<void> bob_side(session& bob, first_words& out) {
  connection c = co_await bob.accept();
  co_await send_text(c, "bob speaks first");  // at once: alice may not have finished her side yet
  out.bob_heard = co_await first_datagram(c, 2s);
}

asio::awaitable<void> alice_side(session& alice, std::string bob, first_words& out) {
  connection c = co_await alice.connect(bob);
  co_await send_text(c, "alice speaks first");
  out.path = c.path();
  out.alice_heard = co_await first_datagram(c, 2s);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(early_data)

// 25 ordered NAT pairs × 8 pairs of peers at once, each world with its own seed and jittery
// links (the seed decides the jitter, loss-free): every first datagram arrives, both ways.
BOOST_AUTO_TEST_CASE(what_either_side_sends_the_moment_it_is_connected_arrives_on_every_nat_pair) {
  const int pairs = std::getenv("PUNCH_TEST_PAIRS") ? std::atoi(std::getenv("PUNCH_TEST_PAIRS")) : 8;
  std::uint64_t seed = 100;
  for (const char* a : nat_types) {
    for (const char* b : nat_types) {
      if (std::getenv("PUNCH_TEST_ALICE") && std::string(std::getenv("PUNCH_TEST_ALICE")) != a) { ++seed; continue; }
      if (std::getenv("PUNCH_TEST_BOB") && std::string(std::getenv("PUNCH_TEST_BOB")) != b) { ++seed; continue; }
      BOOST_TEST_CONTEXT("alice behind " << a << ", bob behind " << b << ", seed " << seed) {
        sim_world w(seed++, sim::link{2ms, 6ms, 0.0});
        w.start_relay();
        std::vector<session*> alices, bobs;
        for (int i = 0; i < pairs; ++i) {
          const std::string n = std::to_string(i);
          alices.push_back(&w.add_session(w.add_peer_host("alice" + n, a), "alice" + n, w.with_relay()));
          bobs.push_back(&w.add_session(w.add_peer_host("bob" + n, b), "bob" + n, w.with_relay()));
        }
        std::vector<first_words> words(pairs);
        w.run([&]() -> asio::awaitable<void> {
          for (int i = 0; i < pairs; ++i) co_await (alices[i]->register_self() && bobs[i]->register_self());
          // Every pair at once, each pair's two sides at once.
          std::vector<asio::awaitable<void>> sides;
          for (int i = 0; i < pairs; ++i) {
            sides.push_back(bob_side(*bobs[i], words[i]));
            sides.push_back(alice_side(*alices[i], "bob" + std::to_string(i), words[i]));
          }
          co_await all_of(std::move(sides));
        }(), 60s);
        for (int i = 0; i < pairs; ++i) {
          const auto& sa = alices[i]->stats();
          const auto& sb = bobs[i]->stats();
          BOOST_TEST_MESSAGE("pair " << i << " alice held " << sa.frames_held << " dropped " << sa.frames_held_dropped
              << " rejected " << sa.frames_rejected << " replayed " << sa.frames_replayed
              << "; bob held " << sb.frames_held << " dropped " << sb.frames_held_dropped
              << " rejected " << sb.frames_rejected << " replayed " << sb.frames_replayed);
        }
        int lost_by_alice = 0, lost_by_bob = 0;
        for (int i = 0; i < pairs; ++i) {
          BOOST_TEST_CONTEXT("pair " << i << " (path " << to_string(words[i].path) << ")") {
            BOOST_CHECK(words[i].alice_heard == std::optional<std::string>("bob speaks first"));
            BOOST_CHECK(words[i].bob_heard == std::optional<std::string>("alice speaks first"));
          }
          lost_by_alice += !words[i].alice_heard;
          lost_by_bob += !words[i].bob_heard;
        }
        BOOST_CHECK_EQUAL(lost_by_alice, 0);
        BOOST_CHECK_EQUAL(lost_by_bob, 0);
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()  // early_data_test
