// The in-memory registry: upsert and refresh, expiry, id ownership by key, capacity.
#include "punch/registry.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using namespace std::chrono_literals;
using punch::endpoint;
using clock_type = std::chrono::steady_clock;
namespace asio = boost::asio;

namespace {

const endpoint alice_ep{asio::ip::make_address("203.0.113.5"), 40000};
const endpoint other_ep{asio::ip::make_address("203.0.113.5"), 40001};
const clock_type::time_point t0{std::chrono::hours(1)};

punch::public_key key_of(int n) {
  punch::public_key k{};
  k[0] = std::byte(n);
  return k;
}
const punch::public_key alice_key = key_of(1), other_key = key_of(2);

punch::registration make(std::string id, endpoint reflexive, clock_type::time_point expires,
                         std::vector<endpoint> host = {}, punch::public_key key = alice_key) {
  return {std::move(id), key, reflexive, std::move(host), expires};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(registry_memory)

BOOST_AUTO_TEST_CASE(an_upserted_registration_is_found_with_all_its_fields) {
  auto reg = punch::make_memory_registry(10);
  const std::vector<endpoint> host{{asio::ip::make_address("192.168.0.2"), 1000},
                                   {asio::ip::make_address("fd00::2"), 1001}};
  BOOST_TEST(!reg->upsert(make("alice", alice_ep, t0 + 60s, host), t0));
  auto found = reg->find("alice", t0);
  BOOST_TEST_REQUIRE(found.has_value());
  BOOST_TEST(found->id == "alice");
  BOOST_TEST((found->key == alice_key));
  BOOST_TEST(found->reflexive == alice_ep);
  BOOST_TEST((found->host == host));
  BOOST_TEST((found->expires == t0 + 60s));
  BOOST_TEST(!reg->find("bob", t0).has_value());
  BOOST_TEST(reg->size() == 1u);
}

BOOST_AUTO_TEST_CASE(upsert_from_the_same_endpoint_refreshes_expiry_and_candidates) {
  auto reg = punch::make_memory_registry(10);
  BOOST_TEST(!reg->upsert(make("alice", alice_ep, t0 + 10s, {alice_ep}), t0));
  BOOST_TEST(!reg->upsert(make("alice", alice_ep, t0 + 70s), t0 + 5s));
  auto found = reg->find("alice", t0 + 30s);
  BOOST_TEST_REQUIRE(found.has_value(), "the refresh did not extend the expiry");
  BOOST_TEST(found->host.empty());
  BOOST_TEST(reg->size() == 1u);
}

BOOST_AUTO_TEST_CASE(an_expired_registration_is_absent_and_expire_drops_it_once) {
  auto reg = punch::make_memory_registry(10);
  BOOST_TEST(!reg->upsert(make("alice", alice_ep, t0 + 10s), t0));
  BOOST_TEST(!reg->upsert(make("bob", other_ep, t0 + 20s), t0));
  BOOST_TEST(reg->find("alice", t0 + 9s).has_value());
  BOOST_TEST(!reg->find("alice", t0 + 10s).has_value(), "expiry is inclusive");
  BOOST_TEST(reg->expire(t0 + 5s) == 0u);
  std::vector<std::string> gone;
  const auto dropped = reg->expire(t0 + 15s, [&](std::string_view id, const endpoint& ep) {
    gone.emplace_back(id);
    BOOST_TEST(ep == alice_ep);
  });
  BOOST_TEST(dropped == 1u);
  BOOST_TEST((gone == std::vector<std::string>{"alice"}));
  BOOST_TEST(reg->size() == 1u);
  BOOST_TEST(reg->expire(t0 + 15s) == 0u);
  BOOST_TEST(reg->expire(t0 + 25s) == 1u);
  BOOST_TEST(reg->size() == 0u);
}

BOOST_AUTO_TEST_CASE(a_refresh_to_an_earlier_expiry_is_still_dropped_on_time) {
  auto reg = punch::make_memory_registry(10);
  BOOST_TEST(!reg->upsert(make("alice", alice_ep, t0 + 100s), t0));
  BOOST_TEST(reg->expire(t0 + 1s) == 0u);
  BOOST_TEST(!reg->upsert(make("alice", alice_ep, t0 + 5s), t0 + 2s));
  BOOST_TEST(reg->expire(t0 + 6s) == 1u);
}

BOOST_AUTO_TEST_CASE(a_live_id_held_by_another_key_is_taken_but_an_expired_one_is_free) {
  auto reg = punch::make_memory_registry(10);
  BOOST_TEST(!reg->upsert(make("alice", alice_ep, t0 + 10s), t0));
  BOOST_TEST(reg->upsert(make("alice", other_ep, t0 + 20s, {}, other_key), t0 + 1s) ==
             punch::make_error_code(punch::errc::id_taken));
  // Also from the very endpoint that holds it.
  BOOST_TEST(reg->upsert(make("alice", alice_ep, t0 + 20s, {}, other_key), t0 + 1s) ==
             punch::make_error_code(punch::errc::id_taken));
  BOOST_TEST(reg->find("alice", t0 + 1s)->reflexive == alice_ep);
  BOOST_TEST((reg->find("alice", t0 + 1s)->key == alice_key));
  BOOST_TEST(!reg->upsert(make("alice", other_ep, t0 + 40s, {}, other_key), t0 + 10s));
  BOOST_TEST(reg->find("alice", t0 + 10s)->reflexive == other_ep);
  BOOST_TEST((reg->find("alice", t0 + 10s)->key == other_key));
}

BOOST_AUTO_TEST_CASE(the_key_that_holds_an_id_moves_it_to_another_endpoint) {
  auto reg = punch::make_memory_registry(10);
  BOOST_TEST(!reg->upsert(make("alice", alice_ep, t0 + 10s), t0));
  BOOST_TEST(!reg->upsert(make("alice", other_ep, t0 + 20s), t0 + 1s));
  auto found = reg->find("alice", t0 + 1s);
  BOOST_TEST(found->reflexive == other_ep);
  BOOST_TEST((found->expires == t0 + 20s));
  BOOST_TEST(reg->size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_full_registry_makes_room_from_expired_entries_before_refusing) {
  auto reg = punch::make_memory_registry(2);
  BOOST_TEST(!reg->upsert(make("a", alice_ep, t0 + 10s), t0));
  BOOST_TEST(!reg->upsert(make("b", other_ep, t0 + 50s), t0));
  BOOST_TEST(reg->upsert(make("c", alice_ep, t0 + 60s), t0 + 1s) == punch::make_error_code(punch::errc::registry_full));
  // Refreshing an id already held never needs room.
  BOOST_TEST(!reg->upsert(make("b", other_ep, t0 + 55s), t0 + 1s));
  // Once "a" has expired, "c" takes its place.
  BOOST_TEST(!reg->upsert(make("c", alice_ep, t0 + 60s), t0 + 11s));
  BOOST_TEST(!reg->find("a", t0 + 11s).has_value());
  BOOST_TEST(reg->size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_registry_of_capacity_zero_refuses_everything) {
  auto reg = punch::make_memory_registry(0);
  BOOST_TEST(reg->upsert(make("a", alice_ep, t0 + 10s), t0) == punch::make_error_code(punch::errc::registry_full));
}

BOOST_AUTO_TEST_CASE(erase_removes_an_id_and_reports_whether_it_was_there) {
  auto reg = punch::make_memory_registry(10);
  BOOST_TEST(!reg->upsert(make("alice", alice_ep, t0 + 10s), t0));
  BOOST_TEST(reg->erase("alice"));
  BOOST_TEST(!reg->erase("alice"));
  BOOST_TEST(!reg->find("alice", t0).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
