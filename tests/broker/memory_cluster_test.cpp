// memory_cluster_hub (punch/cluster.hpp), the in-process cluster of brokers (ring: unit): one
// directory shared by its members, an id's key binding across them, entries that expire in the
// members' clock, lazy extends, completions posted (never inline), introductions handed to the
// named member, and a store that goes down and comes back empty.
#include "function_clock.hpp"

#include "punch/cluster.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <optional>
#include <vector>

BOOST_AUTO_TEST_SUITE(memory_cluster_test)

using namespace punch;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

// Two members "a" and "b" of one hub, started, on one io_context and a clock moved by hand.
struct hub_fixture {
  hub_fixture() {
    a->start();
    b->start();
    ctx.run();
    ctx.restart();
  }

  static registration_record record(std::string_view id, int key) {
    registration_record r;
    r.set_id(id);
    r.key[0] = std::byte(key);
    r.reflexive = {asio::ip::make_address("198.51.100.7"), 4000};
    return r;
  }
  // What claim() completed with, after the io_context ran.
  error_code claim(cluster& c, const registration_record& r, std::chrono::milliseconds lifetime = 60s) {
    std::optional<error_code> got;
    c.claim(r, lifetime, [&](error_code ec) { got = ec; });
    run();
    BOOST_REQUIRE(got);
    return *got;
  }
  std::pair<error_code, cluster_entry> find(cluster& c, std::string_view id) {
    std::optional<std::pair<error_code, cluster_entry>> got;
    c.find(id, [&](error_code ec, cluster_entry e) { got.emplace(ec, std::move(e)); });
    run();
    BOOST_REQUIRE(got);
    return *got;
  }
  void run() {
    ctx.run();
    ctx.restart();
  }

  asio::io_context ctx;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::time_point{} + 1000h;
  std::chrono::milliseconds skew{0};
  test::function_clock clock{[this] { return start + skew; }};
  memory_cluster_hub hub;
  std::unique_ptr<cluster> a = hub.join("a", ctx.get_executor(), &clock);
  std::unique_ptr<cluster> b = hub.join("b", ctx.get_executor(), &clock);
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(an_id_claimed_at_one_member_is_found_at_another_with_its_holder, hub_fixture) {
  BOOST_TEST(!claim(*a, record("alice", 1)));
  auto [ec, e] = find(*b, "alice");
  BOOST_TEST(!ec);
  BOOST_TEST(e.holder == "a");
  BOOST_TEST(e.record.id() == "alice");
  BOOST_TEST(e.record.key == record("alice", 1).key);
  BOOST_TEST(e.record.reflexive == record("alice", 1).reflexive);
  BOOST_TEST(std::chrono::duration_cast<std::chrono::seconds>(e.record.expires - clock.now()).count() == 60);
}

BOOST_FIXTURE_TEST_CASE(another_key_cannot_claim_a_live_id_but_the_same_key_takes_it_over, hub_fixture) {
  BOOST_TEST(!claim(*a, record("alice", 1)));
  BOOST_TEST(claim(*b, record("alice", 2)) == make_error_code(errc::id_taken));
  BOOST_TEST(b->stats().claim_conflicts == 1u);
  BOOST_TEST(find(*a, "alice").second.holder == "a");
  // The peer moved to b (failed over): the same key takes the entry.
  BOOST_TEST(!claim(*b, record("alice", 1)));
  BOOST_TEST(find(*a, "alice").second.holder == "b");
}

BOOST_FIXTURE_TEST_CASE(an_expired_entry_is_not_found_and_its_id_is_free, hub_fixture) {
  BOOST_TEST(!claim(*a, record("alice", 1), 10s));
  skew = 11s;
  BOOST_TEST(find(*b, "alice").first == make_error_code(errc::peer_not_found));
  BOOST_TEST(b->stats().find_misses == 1u);
  BOOST_TEST(!claim(*b, record("alice", 2)));
}

BOOST_FIXTURE_TEST_CASE(completions_are_posted_never_called_inline, hub_fixture) {
  bool claimed = false, found = false;
  a->claim(record("alice", 1), 60s, [&](error_code) { claimed = true; });
  a->find("alice", [&](error_code, cluster_entry) { found = true; });
  BOOST_TEST(!claimed);
  BOOST_TEST(!found);
  run();
  BOOST_TEST(claimed);
  BOOST_TEST(found);
}

BOOST_FIXTURE_TEST_CASE(extend_reaches_the_store_only_once_a_third_of_the_lifetime_has_passed, hub_fixture) {
  BOOST_TEST(!claim(*a, record("alice", 1), 30s));
  skew = 5s;
  a->extend(record("alice", 1), 30s);
  BOOST_TEST(a->stats().extends_skipped == 1u);
  BOOST_TEST(a->stats().extends == 0u);
  skew = 11s;
  a->extend(record("alice", 1), 30s);
  BOOST_TEST(a->stats().extends == 1u);
  // Extended from 11 s: alive at 40 s, where the claim alone would have expired at 30.
  skew = 40s;
  BOOST_TEST(!find(*b, "alice").first);
  // Only the holder, with the key, extends.
  skew = 25s;
  b->extend(record("alice", 1), 600s);
  a->extend(record("alice", 2), 600s);
  skew = 42s;
  BOOST_TEST(find(*b, "alice").first == make_error_code(errc::peer_not_found));
}

BOOST_FIXTURE_TEST_CASE(forward_hands_the_introduction_to_the_named_member_later, hub_fixture) {
  std::vector<cluster_introduction> got;
  b->on_introduction([&](cluster_introduction in) { got.push_back(std::move(in)); });
  a->forward("b", {.from_broker = "a", .requester = "alice", .target = "bob", .token = {}, .request = {std::byte{1}}});
  a->forward("nobody", {.from_broker = "a", .requester = "alice", .target = "carol", .token = {}, .request = {}});
  BOOST_TEST(got.empty());
  run();
  BOOST_REQUIRE(got.size() == 1u);
  BOOST_TEST(got[0].target == "bob");
  BOOST_TEST(got[0].request.size() == 1u);
  BOOST_TEST(a->stats().introductions_sent == 1u);
  BOOST_TEST(b->stats().introductions_received == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_store_down_fails_everything_and_comes_back_empty, hub_fixture) {
  std::vector<cluster_state> a_states, b_states;
  a->on_state([&](cluster_state s) { a_states.push_back(s); });
  b->on_state([&](cluster_state s) { b_states.push_back(s); });
  BOOST_TEST(!claim(*a, record("alice", 1)));
  hub.set_down(true);
  run();
  BOOST_TEST((a_states == std::vector{cluster_state::down}));
  BOOST_TEST((b_states == std::vector{cluster_state::down}));
  BOOST_TEST((a->stats().state == cluster_state::down));
  BOOST_TEST(claim(*a, record("carol", 3)) == make_error_code(errc::cluster_unavailable));
  BOOST_TEST(find(*b, "alice").first == make_error_code(errc::cluster_unavailable));
  BOOST_TEST(a->stats().failed == 1u);
  hub.set_down(false);
  run();
  BOOST_TEST((a_states == std::vector{cluster_state::down, cluster_state::up}));
  BOOST_TEST((b_states == std::vector{cluster_state::down, cluster_state::up}));
  // A store that restarted without its data.
  BOOST_TEST(find(*b, "alice").first == make_error_code(errc::peer_not_found));
}

BOOST_AUTO_TEST_CASE(a_member_not_started_is_unavailable) {
  asio::io_context ctx;
  memory_cluster_hub hub;
  auto a = hub.join("a", ctx.get_executor());
  std::optional<error_code> got;
  a->claim(hub_fixture::record("alice", 1), 60s, [&](error_code ec) { got = ec; });
  ctx.run();
  BOOST_TEST((got && *got == make_error_code(errc::cluster_unavailable)));
  BOOST_TEST((a->stats().state == cluster_state::connecting));
}

BOOST_AUTO_TEST_SUITE_END()
