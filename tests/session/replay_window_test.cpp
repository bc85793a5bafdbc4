// The replay window of sealed frames: new counters pass once, old ones within the window pass
// once, anything older than the window never does.
#include "session/replay_window.hpp"

#include <boost/test/unit_test.hpp>

#include <random>
#include <set>

using punch::detail::replay_window;

BOOST_AUTO_TEST_SUITE(replay_window_rules)

BOOST_AUTO_TEST_CASE(each_counter_is_accepted_once_in_any_order_within_the_window) {
  replay_window w;
  for (std::uint64_t n : {5u, 3u, 9u, 4u, 0u}) {
    BOOST_TEST_CONTEXT("counter " << n) {
      BOOST_CHECK(w.fresh(n));
      w.accept(n);
      BOOST_CHECK(!w.fresh(n));
    }
  }
  BOOST_CHECK(w.fresh(1));
  BOOST_CHECK(w.fresh(10));
}

BOOST_AUTO_TEST_CASE(has_all_before_tells_whether_a_close_still_waits_for_earlier_frames) {
  replay_window w;
  BOOST_CHECK(w.has_all_before(0));
  BOOST_CHECK(!w.has_all_before(1));
  w.accept(2);  // the close overtook frames 0 and 1
  BOOST_CHECK(!w.has_all_before(2));
  w.accept(0);
  BOOST_CHECK(!w.has_all_before(2));
  w.accept(1);
  BOOST_CHECK(w.has_all_before(2));
  BOOST_CHECK(w.has_all_before(3));
  BOOST_CHECK(!w.has_all_before(4));
  // Behind the window counts as in: such a frame could no longer be taken anyway.
  replay_window far;
  far.accept(3 * replay_window::size);
  BOOST_CHECK(!far.has_all_before(3 * replay_window::size));
  for (std::uint64_t n = 2 * replay_window::size + 1; n < 3 * replay_window::size; ++n) far.accept(n);
  BOOST_CHECK(far.has_all_before(3 * replay_window::size));
}

BOOST_AUTO_TEST_CASE(counters_older_than_the_window_are_refused) {
  replay_window w;
  w.accept(0);
  w.accept(replay_window::size + 10);
  BOOST_CHECK(!w.fresh(9));                         // behind the window, never seen
  BOOST_CHECK(w.fresh(11));                         // just inside it
  BOOST_CHECK(!w.fresh(0));
  w.accept(5 * replay_window::size);                // a jump past the whole window
  BOOST_CHECK(!w.fresh(replay_window::size + 10));  // now behind it
  BOOST_CHECK(w.fresh(5 * replay_window::size - 1));
}

BOOST_AUTO_TEST_CASE(a_window_that_moved_forgets_bits_of_the_counters_it_left_behind) {
  // The bitmap is a ring: a slot reused for a newer counter must start clear.
  replay_window w;
  for (std::uint64_t n = 0; n < replay_window::size; ++n) w.accept(n);
  w.accept(replay_window::size + 100);
  for (std::uint64_t n = replay_window::size; n < replay_window::size + 100; ++n) BOOST_CHECK(w.fresh(n));
}

BOOST_AUTO_TEST_CASE(matches_a_set_of_accepted_counters_on_random_traffic) {
  std::mt19937_64 rng(7);
  replay_window w;
  std::set<std::uint64_t> accepted;
  std::uint64_t highest = 0;
  for (int i = 0; i < 20000; ++i) {
    // Mostly new counters, some reordered, some repeated, some very old.
    const std::uint64_t n = highest + 50 > 3000 ? highest + 50 - rng() % 3000 : rng() % 3000;
    const bool expect = !accepted.contains(n) && (accepted.empty() || n > highest || highest - n < replay_window::size);
    BOOST_REQUIRE_EQUAL(w.fresh(n), expect);
    if (expect) {
      w.accept(n);
      accepted.insert(n);
      highest = std::max(highest, n);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
