// The broker's replay cache on its own (ring: unit; docs/security.md, "Replay"): it never
// holds more than its capacity, refuses to take more when full rather than forget a live
// entry, lets entries go after their hold, and finds exactly what it holds through long runs of
// inserts and expiries (its index deletes by shifting, which a wrong shift would break).
#define BOOST_TEST_MODULE replay_cache_test
#include <boost/test/unit_test.hpp>

#include "broker/replay_cache.hpp"

#include <deque>
#include <random>
#include <utility>

using punch::detail::replay_cache;
using namespace std::chrono_literals;
using time_point = replay_cache::clock::time_point;

namespace {

replay_cache::digest digest_of(std::uint64_t n) {
  const std::array<std::byte, 8> in{std::byte(n), std::byte(n >> 8), std::byte(n >> 16), std::byte(n >> 24),
                                    std::byte(n >> 32), std::byte(n >> 40), std::byte(n >> 48), std::byte(n >> 56)};
  return replay_cache::of(in, {});
}

const time_point t0 = time_point{} + 1000h;

}  // namespace

BOOST_AUTO_TEST_CASE(a_full_cache_takes_nothing_more_and_forgets_nothing_live) {
  replay_cache c(4, 60s);
  for (std::uint64_t i = 0; i < 4; ++i) BOOST_TEST(c.insert(digest_of(i), t0 + std::chrono::seconds(i)));
  BOOST_TEST(c.size() == 4u);
  BOOST_TEST(!c.has_room(t0 + 10s));
  BOOST_TEST(!c.insert(digest_of(99), t0 + 10s));
  BOOST_TEST(c.size() == 4u);
  for (std::uint64_t i = 0; i < 4; ++i) BOOST_TEST(c.contains(digest_of(i), t0 + 10s));
  BOOST_TEST(!c.contains(digest_of(99), t0 + 10s));
}

BOOST_AUTO_TEST_CASE(entries_go_after_their_hold_and_make_room) {
  replay_cache c(2, 60s);
  BOOST_TEST(c.insert(digest_of(1), t0));
  BOOST_TEST(c.insert(digest_of(2), t0 + 30s));
  BOOST_TEST(c.contains(digest_of(1), t0 + 59s));
  BOOST_TEST(!c.contains(digest_of(1), t0 + 60s));
  BOOST_TEST(c.contains(digest_of(2), t0 + 60s));
  BOOST_TEST(c.size() == 1u);
  BOOST_TEST(c.insert(digest_of(3), t0 + 60s));
  BOOST_TEST(!c.has_room(t0 + 60s));
}

BOOST_AUTO_TEST_CASE(a_cache_of_no_capacity_takes_nothing) {
  replay_cache c(0, 60s);
  BOOST_TEST(!c.has_room(t0));
  BOOST_TEST(!c.insert(digest_of(1), t0));
  BOOST_TEST(!c.contains(digest_of(1), t0));
}

BOOST_AUTO_TEST_CASE(a_long_run_of_inserts_and_expiries_finds_exactly_what_it_holds) {
  constexpr std::size_t capacity = 64;
  replay_cache c(capacity, 10s);
  std::deque<std::pair<std::uint64_t, time_point>> held;  // the reference: arrival order
  std::mt19937_64 rng(18);
  time_point now = t0;
  std::uint64_t next = 0;
  for (int step = 0; step < 20000; ++step) {
    now += std::chrono::milliseconds(rng() % 400);
    while (!held.empty() && held.front().second + 10s <= now) held.pop_front();
    if (held.size() < capacity) {
      BOOST_REQUIRE(c.insert(digest_of(next), now));
      held.emplace_back(next++, now);
    } else {
      BOOST_REQUIRE(!c.insert(digest_of(next++), now));
    }
    BOOST_REQUIRE(c.size() == held.size());
    BOOST_REQUIRE(c.size() <= capacity);
    // Every live one is found; recent ones that left are not.
    for (const auto& [n, at] : held) BOOST_REQUIRE(c.contains(digest_of(n), now));
    if (!held.empty() && held.front().first > 0) BOOST_REQUIRE(!c.contains(digest_of(held.front().first - 1), now));
  }
}
