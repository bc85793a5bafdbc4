// The relay's datagram logic, one datagram at a time through relay::handle() on a clock the
// test moves (ring: unit): the NONCE round trip, pairing, refusals, forwarding, rate limit,
// idle expiry, amplification over random request sizes, random input, and no allocation per
// forwarded datagram (a counting operator new, tests/support, linked into this binary).
#include "counting_new.hpp"
#include "relay_test_support.hpp"

#include <random>

using namespace relay_test;
using punch::relay_action;
using error_code_t = punch::error_code;

namespace {

const endpoint alice = ep("198.51.100.1", 40000);
const endpoint bob = ep("198.51.100.2", 50000);
const endpoint carol = ep("198.51.100.3", 60000);
const punch::relay_id shared_id = make_relay_id(1);

// Alice and Bob allocated `shared_id`: a complete pair.
void pair_up(handle_fixture& f) {
  auto a = f.allocate(shared_id, alice);
  auto b = f.allocate(shared_id, bob);
  BOOST_TEST_REQUIRE((a && a->cls() == stun::message_class::success_response));
  BOOST_TEST_REQUIRE((b && b->cls() == stun::message_class::success_response));
}

bytes random_bytes(std::mt19937& rng, std::size_t n) {
  bytes out(n);
  for (auto& b : out) b = std::byte(rng() & 0xFF);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_allocate_without_nonce_gets_401_with_a_nonce_that_then_allocates) {
  handle_fixture f;
  auto challenge = f.exchange(allocate_request(shared_id), alice);
  BOOST_TEST_REQUIRE(challenge.has_value());
  BOOST_TEST(challenge->error_code() == 401);
  BOOST_TEST(challenge->nonce().size() == wire::nonce_size);
  BOOST_TEST(f.relay.allocations() == 0u, "state before the source proved its address");

  auto ok = f.exchange(allocate_request(shared_id, challenge->nonce()), alice);
  BOOST_TEST_REQUIRE(ok.has_value());
  BOOST_TEST((ok->cls() == stun::message_class::success_response));
  BOOST_TEST(ok->mapped() == std::optional<endpoint>(alice));
  BOOST_TEST(ok->lifetime() == std::optional<std::uint32_t>(60));
  BOOST_TEST(ok->nonce().size() == wire::nonce_size, "a fresh NONCE for the refresh");
  BOOST_TEST(f.relay.allocations() == 1u);
  BOOST_TEST(f.relay.stats().challenges == 1u);
  BOOST_TEST(f.relay.stats().allocations == 1u);
  BOOST_TEST_REQUIRE(f.events.size() == 1u);
  BOOST_TEST((f.events[0].what == punch::relay_event::kind::allocated));
}

BOOST_AUTO_TEST_CASE(a_nonce_of_another_source_or_an_old_one_gets_438) {
  handle_fixture f;
  auto challenge = f.exchange(allocate_request(shared_id), alice);
  BOOST_TEST_REQUIRE(challenge.has_value());
  const bytes nonce = challenge->nonce();
  auto stolen = f.exchange(allocate_request(shared_id, nonce), ep("198.51.100.1", 40001));
  BOOST_TEST_REQUIRE(stolen.has_value());
  BOOST_TEST(stolen->error_code() == 438);
  BOOST_TEST((stolen->nonce() != nonce));
  f.now += 301s;
  auto old = f.exchange(allocate_request(shared_id, nonce), alice);
  BOOST_TEST_REQUIRE(old.has_value());
  BOOST_TEST(old->error_code() == 438);
  BOOST_TEST(f.relay.allocations() == 0u);
}

BOOST_AUTO_TEST_CASE(two_sources_pair_and_datagrams_go_to_the_other_side_unchanged) {
  handle_fixture f;
  pair_up(f);
  BOOST_TEST(f.relay.stats().pairs == 1u);
  BOOST_TEST_REQUIRE(f.events.size() == 2u);
  BOOST_TEST((f.events[1].what == punch::relay_event::kind::paired));
  BOOST_TEST(f.events[1].a == alice);
  BOOST_TEST(f.events[1].b == bob);
  std::mt19937 rng(7);
  for (std::size_t size : {0u, 1u, 29u, 100u, 1229u, 2047u}) {
    const bytes d = random_bytes(rng, size);
    auto to_bob = f.send(d, alice);
    BOOST_TEST_REQUIRE((to_bob.what == relay_action::kind::forward));
    BOOST_TEST(to_bob.to == bob);
    BOOST_TEST((bytes(to_bob.bytes.begin(), to_bob.bytes.end()) == d));
    auto to_alice = f.send(d, bob);
    BOOST_TEST_REQUIRE((to_alice.what == relay_action::kind::forward));
    BOOST_TEST(to_alice.to == alice);
    BOOST_TEST((bytes(to_alice.bytes.begin(), to_alice.bytes.end()) == d));
  }
  // A STUN message that is not an ALLOCATE request (a punch check, an ALLOCATE answer) too.
  const bytes check = allocate_request(shared_id);
  bytes answer_like = check;
  answer_like[1] = std::byte(std::to_integer<int>(answer_like[1]) | 0x10);  // class bit C0
  auto forwarded = f.send(answer_like, alice);
  BOOST_TEST((forwarded.what == relay_action::kind::forward));
  BOOST_TEST(f.relay.stats().forwarded == 13u);
}

BOOST_AUTO_TEST_CASE(a_repeated_allocate_refreshes_and_a_third_source_gets_403) {
  handle_fixture f;
  pair_up(f);
  auto again = f.allocate(shared_id, alice);
  BOOST_TEST_REQUIRE(again.has_value());
  BOOST_TEST((again->cls() == stun::message_class::success_response));
  BOOST_TEST(f.relay.stats().refreshes == 1u);

  auto third = f.allocate(shared_id, carol);
  BOOST_TEST_REQUIRE(third.has_value());
  BOOST_TEST(third->error_code() == 403);
  BOOST_TEST(third->reason() == "allocation full");
  const bytes d{std::byte{0xD0}, std::byte{1}, std::byte{2}};
  BOOST_TEST((f.send(d, carol).what == relay_action::kind::none), "a third party's datagram was forwarded");
  BOOST_TEST(f.relay.stats().dropped_unknown == 1u);
  BOOST_TEST(f.relay.stats().rejected == 1u);
}

// A peer whose address changed comes back from a new source with its pair's RELAY-ID: it takes
// the place of its old side once that side has been quiet for takeover_after, never while both
// sides are talking.
BOOST_AUTO_TEST_CASE(a_new_source_takes_over_a_side_that_went_quiet_and_only_then) {
  handle_fixture f;
  pair_up(f);
  const endpoint alice_moved = ep("198.51.100.1", 41000);
  const bytes d{std::byte{0xD0}, std::byte{1}, std::byte{2}};
  f.now += 2s;
  BOOST_TEST((f.send(d, bob).what == relay_action::kind::forward));
  BOOST_TEST((f.send(d, alice).what == relay_action::kind::forward));
  auto early = f.allocate(shared_id, alice_moved);
  BOOST_TEST_REQUIRE(early.has_value());
  BOOST_TEST(early->error_code() == 403, "both sides talk: the pair is full");
  // alice's old mapping falls silent; bob keeps sending into it.
  for (int i = 0; i < 5; ++i) {
    f.now += 300ms;
    BOOST_TEST((f.send(d, bob).what == relay_action::kind::forward));
  }
  auto moved = f.allocate(shared_id, alice_moved);
  BOOST_TEST_REQUIRE(moved.has_value());
  BOOST_TEST((moved->cls() == stun::message_class::success_response));
  BOOST_TEST(f.relay.stats().takeovers == 1u);
  BOOST_TEST_REQUIRE(!f.events.empty());
  BOOST_TEST((f.events.back().what == punch::relay_event::kind::taken_over));
  BOOST_TEST(f.events.back().a == alice);
  BOOST_TEST(f.events.back().b == alice_moved);
  auto to_new = f.send(d, bob);
  BOOST_TEST_REQUIRE((to_new.what == relay_action::kind::forward));
  BOOST_TEST(to_new.to == alice_moved);
  BOOST_TEST((f.send(d, alice).what == relay_action::kind::none), "the old source still forwards");
  auto back = f.send(d, alice_moved);
  BOOST_TEST((back.what == relay_action::kind::forward));
  BOOST_TEST(back.to == bob);
}

BOOST_AUTO_TEST_CASE(a_stranger_gets_nothing_forwarded_and_a_lone_side_neither) {
  handle_fixture f;
  const bytes d(40, std::byte{0xD0});
  BOOST_TEST((f.send(d, carol).what == relay_action::kind::none));
  BOOST_TEST(f.relay.stats().dropped_unknown == 1u);
  BOOST_TEST_REQUIRE(f.allocate(shared_id, alice).has_value());
  BOOST_TEST((f.send(d, alice).what == relay_action::kind::none), "forwarded before the pair was complete");
  BOOST_TEST(f.relay.stats().dropped_unpaired == 1u);
  BOOST_TEST(f.relay.stats().forwarded == 0u);
}

BOOST_AUTO_TEST_CASE(a_source_in_one_allocation_cannot_take_another) {
  handle_fixture f;
  pair_up(f);
  auto other = f.allocate(make_relay_id(2), alice);
  BOOST_TEST_REQUIRE(other.has_value());
  BOOST_TEST(other->error_code() == 403);
  BOOST_TEST(other->reason() == "in another allocation");
}

BOOST_AUTO_TEST_CASE(beyond_max_allocations_a_new_relay_id_gets_508) {
  punch::relay_options o;
  o.max_allocations = 2;
  handle_fixture f(o);
  BOOST_TEST_REQUIRE(f.allocate(make_relay_id(1), alice).has_value());
  BOOST_TEST_REQUIRE(f.allocate(make_relay_id(2), bob).has_value());
  auto full = f.allocate(make_relay_id(3), carol);
  BOOST_TEST_REQUIRE(full.has_value());
  BOOST_TEST(full->error_code() == 508);
  BOOST_TEST(full->reason() == "relay full");
  // Once one expires there is room again.
  f.now += 61s;
  BOOST_TEST(f.relay.expire() == 2u);
  auto ok = f.allocate(make_relay_id(3), carol);
  BOOST_TEST_REQUIRE(ok.has_value());
  BOOST_TEST((ok->cls() == stun::message_class::success_response));
}

BOOST_AUTO_TEST_CASE(an_allocation_expires_after_its_idle_lifetime_and_traffic_keeps_it) {
  handle_fixture f;
  pair_up(f);
  const bytes d(40, std::byte{0xD0});
  // Forwarded traffic refreshes: 50 s, a datagram, 50 s more is still within 60 s of it.
  f.now += 50s;
  BOOST_TEST((f.send(d, alice).what == relay_action::kind::forward));
  f.now += 50s;
  BOOST_TEST(f.relay.expire() == 0u);
  BOOST_TEST((f.send(d, bob).what == relay_action::kind::forward));
  // Then 61 s of silence: gone, and nothing is forwarded any more.
  f.now += 61s;
  BOOST_TEST(f.relay.expire() == 1u);
  BOOST_TEST(f.relay.allocations() == 0u);
  BOOST_TEST((f.send(d, alice).what == relay_action::kind::none));
  BOOST_TEST(f.relay.stats().expired == 1u);
  BOOST_TEST_REQUIRE(!f.events.empty());
  BOOST_TEST((f.events.back().what == punch::relay_event::kind::expired));
  BOOST_TEST(f.events.back().b == bob);
}

BOOST_AUTO_TEST_CASE(an_expired_allocation_forwards_nothing_even_before_the_sweep) {
  handle_fixture f;
  pair_up(f);
  f.now += 61s;
  BOOST_TEST((f.send(bytes(40, std::byte{0xD0}), alice).what == relay_action::kind::none));
  BOOST_TEST(f.relay.allocations() == 0u);
  // The RELAY-ID is free again: a new pair may take it.
  auto a = f.allocate(shared_id, carol);
  BOOST_TEST_REQUIRE(a.has_value());
  BOOST_TEST((a->cls() == stun::message_class::success_response));
}

BOOST_AUTO_TEST_CASE(each_side_is_held_to_its_rate_and_burst) {
  punch::relay_options o;
  o.rate_limit = 10;
  o.rate_burst = 20;
  handle_fixture f(o);
  pair_up(f);
  const bytes d(40, std::byte{0xD0});
  int passed = 0;
  for (int i = 0; i < 50; ++i) passed += f.send(d, alice).what == relay_action::kind::forward;
  BOOST_TEST(passed == 20);
  BOOST_TEST(f.relay.stats().rate_limited == 30u);
  // Bob's side has its own bucket.
  BOOST_TEST((f.send(d, bob).what == relay_action::kind::forward));
  // One second refills ten.
  f.now += 1s;
  passed = 0;
  for (int i = 0; i < 50; ++i) passed += f.send(d, alice).what == relay_action::kind::forward;
  BOOST_TEST(passed == 10);
}

BOOST_AUTO_TEST_CASE(allocates_from_one_address_are_rate_limited) {
  punch::relay_options o;
  o.allocate_rate_limit = 1;
  o.allocate_rate_burst = 5;
  handle_fixture f(o);
  int answered = 0;
  for (int i = 0; i < 20; ++i) answered += f.send(allocate_request(shared_id), alice).what == relay_action::kind::answer;
  BOOST_TEST(answered == 5);
  BOOST_TEST(f.relay.stats().allocate_rate_limited == 15u);
}

BOOST_AUTO_TEST_CASE(a_small_allocate_is_told_to_pad_or_not_answered) {
  handle_fixture f;
  const bytes nonce(wire::nonce_size, std::byte{1});
  auto small = f.exchange(allocate_request(shared_id, nonce, wire::answer_bound::allocate - 4), alice);
  BOOST_TEST_REQUIRE(small.has_value());
  BOOST_TEST(small->error_code() == 400);
  BOOST_TEST(small->reason() == "pad request to " + std::to_string(wire::answer_bound::allocate) + " bytes");
  const bytes tiny = allocate_request(shared_id, {}, 0);  // 48 bytes: no answer fits
  BOOST_TEST(tiny.size() == 48u);
  BOOST_TEST((f.send(tiny, alice).what == relay_action::kind::none));
  BOOST_TEST(f.relay.stats().unanswered == 1u);
}

BOOST_AUTO_TEST_CASE(no_answer_is_ever_larger_than_its_request) {
  punch::relay_options o;
  o.allocate_rate_limit = 0;  // every request reaches the answers
  handle_fixture f(o);
  std::mt19937 rng(11);
  bytes nonce;  // the last one alice got: valid for her, stale for the others
  const std::array<endpoint, 3> sources{alice, bob, ep("2001:db8::1", 443)};
  for (int i = 0; i < 3000; ++i) {
    const endpoint& from = sources[rng() % sources.size()];
    bytes n;
    switch (rng() % 3) {
      case 0: break;
      case 1: n = nonce; break;
      default: n = random_bytes(rng, 1 + rng() % 40); break;
    }
    const auto request = allocate_request(make_relay_id(static_cast<unsigned char>(rng() % 4)), n, rng() % 200);
    const auto act = f.send(request, from);
    if (act.what == relay_action::kind::none) continue;
    BOOST_TEST_REQUIRE((act.what == relay_action::kind::answer));
    BOOST_TEST_REQUIRE(act.bytes.size() <= request.size(), "answer of " << act.bytes.size() << " bytes to " << request.size());
    // The NONCE read straight from the answer's bytes (GCC 12 sees a false free-nonheap-object
    // in copying it out of an optional<answer> here).
    error_code_t ec;
    auto m = stun::message::parse(act.bytes, ec);
    BOOST_TEST_REQUIRE(m.has_value());
    if (auto attr = m->find(wire::attr::nonce); attr && from == alice) nonce.assign(attr->value.begin(), attr->value.end());
  }
  BOOST_TEST(f.relay.stats().allocations > 0u, "the random requests never reached an allocation");
}

BOOST_AUTO_TEST_CASE(random_datagrams_neither_crash_nor_get_forwarded) {
  punch::relay_options o;
  o.allocate_rate_limit = 0;
  handle_fixture f(o);
  pair_up(f);
  std::mt19937 rng(3);
  const bytes valid = allocate_request(make_relay_id(9), bytes(wire::nonce_size, std::byte{5}));
  for (int i = 0; i < 20000; ++i) {
    bytes d;
    if (i % 2 == 0) {
      d = random_bytes(rng, rng() % 300);
      // Make some of them look like STUN, or like an ALLOCATE request.
      if (d.size() >= 20 && rng() % 2) {
        d[0] = std::byte{0x02};
        d[1] = std::byte{0xA4};
        const std::array<std::byte, 4> cookie{std::byte{0x21}, std::byte{0x12}, std::byte{0xA4}, std::byte{0x42}};
        std::copy(cookie.begin(), cookie.end(), d.begin() + 4);
      }
    } else {
      d = valid;  // an ALLOCATE with bytes flipped
      for (int flips = 1 + static_cast<int>(rng() % 4); flips > 0; --flips) d[rng() % d.size()] ^= std::byte(1 + rng() % 255);
    }
    const endpoint from = ep("203.0.113.9", static_cast<unsigned short>(1 + rng() % 60000));
    const auto act = f.send(d, from);
    BOOST_TEST_REQUIRE((act.what != relay_action::kind::forward), "a stranger's datagram was forwarded");
    if (act.what == relay_action::kind::answer) {
      BOOST_TEST_REQUIRE(act.to == from);
      BOOST_TEST_REQUIRE(act.bytes.size() <= d.size());
    }
  }
  BOOST_TEST(f.relay.allocations() == 1u);
  BOOST_TEST(f.relay.stats().forwarded == 0u);
}

BOOST_AUTO_TEST_CASE(forwarding_allocates_nothing) {
  handle_fixture f;
  pair_up(f);
  const bytes d(1229, std::byte{0xD0});
  for (int i = 0; i < 100; ++i) f.send(d, i % 2 ? alice : bob);  // warm up
  std::size_t forwarded = 0;
  punch::test::start_counting();
  for (int i = 0; i < 10000; ++i) {
    f.now += 1ms;  // keep the buckets full
    forwarded += f.send(d, i % 2 ? alice : bob).what == relay_action::kind::forward;
  }
  // Refreshes and strangers on the way too.
  for (int i = 0; i < 100; ++i) f.send(d, carol);
  const std::size_t counted = punch::test::stop_counting();
  BOOST_TEST(forwarded == 10000u);
  BOOST_TEST(counted == 0u, counted << " allocations while forwarding");
}
