// The in-memory registry: upsert and refresh, expiry, id ownership by key, capacity, and
// extend() (the broker's refresh by credential) in every registry.
#include "punch/registry.hpp"

#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(peer_registry_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

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

namespace {

// A registry with only the pure virtuals: extend() is the base class's find, compare, upsert.
class forwarding_registry final : public punch::registry {
public:
  using registry::find;
  using registry::upsert;
  using registry::expire;
  punch::error_code upsert(const punch::registration_record& r, clock_type::time_point now) override {
    return inner_->upsert(r, now);
  }
  bool find(std::string_view id, clock_type::time_point now, punch::registration_record& out) const override {
    return inner_->find(id, now, out);
  }
  bool erase(std::string_view id) override { return inner_->erase(id); }
  std::size_t expire(clock_type::time_point now, const expired_handler& on_expired) override {
    return inner_->expire(now, on_expired);
  }
  std::size_t size() const override { return inner_->size(); }

private:
  std::unique_ptr<punch::registry> inner_ = punch::make_memory_registry(10);
};

punch::registration_record record_of(const punch::registration& r, std::uint8_t nat = 0) {
  punch::registration_record out;
  out.set_id(r.id);
  out.key = r.key;
  out.reflexive = r.reflexive;
  for (const auto& h : r.host) out.add_host(h);
  out.expires = r.expires;
  out.nat = nat;
  return out;
}

// extend(): only an identical live registration gets the new expiry; nothing else changes.
void check_extend(punch::registry& reg) {
  const endpoint lan{asio::ip::make_address("192.168.0.2"), 1000}, lan2{asio::ip::make_address("192.168.0.3"), 1000};
  auto stored = record_of(make("alice", alice_ep, t0 + 10s, {lan, lan2}));
  stored.nonce_time = 1234;
  BOOST_TEST_REQUIRE(!reg.upsert(stored, t0));
  auto asked = record_of(make("alice", alice_ep, t0 + 70s, {lan, lan2}));
  BOOST_TEST(reg.extend(asked, t0 + 5s));
  punch::registration_record found;
  BOOST_TEST_REQUIRE(reg.find("alice", t0 + 60s, found));
  BOOST_TEST((found.expires == t0 + 70s));
  BOOST_TEST(found.nonce_time == 1234u, "extend() kept the stored NONCE time");
  // Different: key, reflexive endpoint, host candidates (or their order).
  const std::vector<punch::registration_record> different{
      record_of(make("alice", alice_ep, t0 + 99s, {lan, lan2}, other_key)),
      record_of(make("alice", other_ep, t0 + 99s, {lan, lan2})),
      record_of(make("alice", alice_ep, t0 + 99s, {lan})),
      record_of(make("alice", alice_ep, t0 + 99s, {lan2, lan}))};
  for (const auto& d : different) BOOST_TEST(!reg.extend(d, t0 + 6s));
  BOOST_TEST_REQUIRE(reg.find("alice", t0 + 6s, found));
  BOOST_TEST((found.expires == t0 + 70s));
  BOOST_TEST(found.reflexive == alice_ep);
  BOOST_TEST(found.host().size() == 2u);
  // Absent, or expired: nothing to extend, and nothing is created.
  BOOST_TEST(!reg.extend(record_of(make("bob", alice_ep, t0 + 99s)), t0 + 6s));
  // NAT-MAPPING may change (the peer measures it after registering): it is taken.
  BOOST_TEST(found.nat == 0u);
  BOOST_TEST(reg.extend(record_of(make("alice", alice_ep, t0 + 70s, {lan, lan2}), 2), t0 + 6s));
  BOOST_TEST_REQUIRE(reg.find("alice", t0 + 6s, found));
  BOOST_TEST(found.nat == 2u);
  BOOST_TEST(!reg.extend(asked, t0 + 70s));
  BOOST_TEST(!reg.find("alice", t0 + 70s, found));
  BOOST_TEST(!reg.find("bob", t0 + 6s, found));
}

}  // namespace

BOOST_AUTO_TEST_CASE(extend_moves_the_expiry_of_an_identical_live_registration_and_nothing_else) {
  auto memory = punch::make_memory_registry(10);
  BOOST_TEST_CONTEXT("memory registry") { check_extend(*memory); }
  auto shared = punch::make_shared_registry(10, 4);
  BOOST_TEST_CONTEXT("shared registry") { check_extend(*shared); }
  forwarding_registry base;
  BOOST_TEST_CONTEXT("registry::extend, the default") { check_extend(base); }
}

BOOST_AUTO_TEST_CASE(erase_removes_an_id_and_reports_whether_it_was_there) {
  auto reg = punch::make_memory_registry(10);
  BOOST_TEST(!reg->upsert(make("alice", alice_ep, t0 + 10s), t0));
  BOOST_TEST(reg->erase("alice"));
  BOOST_TEST(!reg->erase("alice"));
  BOOST_TEST(!reg->find("alice", t0).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()  // peer_registry_test
