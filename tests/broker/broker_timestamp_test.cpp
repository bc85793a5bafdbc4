// A Register taken on its first datagram (ring: unit; docs/protocol.md, "TIMESTAMP";
// docs/security.md, "Replay", "Flood"): signed over a TIMESTAMP within the broker's window, it
// registers without the NONCE round trip; a stale one, a replayed one, and any while the broker
// is busy or its replay cache full get the NONCE challenge, after which the old path registers.
// Time moves by the fixture's clock, not by waiting.
#include "broker_handle_support.hpp"

BOOST_AUTO_TEST_SUITE(broker_timestamp_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace broker_test;
namespace stun = punch::stun;
namespace wire = punch::wire;
using cls = stun::message_class;

namespace {

const punch::identity alice_key = test_identity(1), bob_key = test_identity(2), carol_key = test_identity(4);
const register_fields alice{"alice", 60, {}}, bob{"bob", 60, {}}, carol{"carol", 60, {}};
// Outlives the replay cache's hold (2 × 30 s).
const register_fields alice_long{"alice", 300, {}};

// The broker's wall clock, in TIMESTAMP's unit, moved by `offset`.
std::uint64_t stamp(const handle_fixture& f, std::chrono::milliseconds offset = 0ms) {
  const auto wall = punch::wall_time(f.clock) + offset;
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch()).count());
}

// Where the registry holds `id` now (port 0: nowhere).
punch::endpoint registered_at(handle_fixture& f, std::string_view id) {
  punch::registration_record r;
  return f.registry->find(id, f.now(), r) ? r.reflexive : punch::endpoint{};
}

// `c` sends `who`'s timestamped Register, stamped now; its answer: "ok" for a success, else
// the error's reason.
std::string send_stamped(handle_fixture& f, handle_client& c, const punch::identity& who, const register_fields& what) {
  auto a = c.exchange(timestamped_register_request(who, what, stamp(f), random_id()), f.address);
  return a->msg.cls() == cls::success_response ? "ok" : std::string(a->reason());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(first_datagram)

BOOST_AUTO_TEST_CASE(a_fresh_timestamped_register_is_taken_on_its_first_datagram_and_answered_within_its_size) {
  handle_fixture f;
  handle_client c(f);
  const auto request = timestamped_register_request(alice_key, alice, stamp(f, -2s), random_id());
  auto a = c.exchange(request, f.address);
  BOOST_TEST(a->msg.cls() == cls::success_response);
  BOOST_TEST(a->credential().size() == wire::refresh_credential_size);
  // The amplification rule with no source proof: the answer is no larger than the request.
  BOOST_TEST(a->data.size() <= request.size());
  BOOST_TEST(a->data.size() <= wire::answer_bound::reg_success);
  BOOST_TEST(registered_at(f, "alice") == c.local());
  BOOST_TEST(f.broker.stats().first_datagram == 1u);
  BOOST_TEST(f.broker.stats().challenges == 0u);
  BOOST_TEST(f.broker.stats().signatures_verified == 1u);
}

BOOST_AUTO_TEST_CASE(the_same_bytes_from_another_address_are_refused_and_move_nothing) {
  handle_fixture f;
  handle_client peer(f, "198.51.100.7"), attacker(f, "203.0.113.66");
  const auto request = timestamped_register_request(alice_key, alice, stamp(f), random_id());
  BOOST_TEST(peer.exchange(request, f.address)->msg.cls() == cls::success_response);
  f.skew += 5s;
  auto replayed = attacker.exchange(request, f.address);
  BOOST_TEST(replayed->error_code() == 401);
  BOOST_TEST(replayed->reason() == "replayed");
  BOOST_TEST(replayed->nonce().size() == wire::nonce_size);
  BOOST_TEST(registered_at(f, "alice") == peer.local());
  BOOST_TEST(f.broker.stats().replays == 1u);
  // Refused before its signature was checked again.
  BOOST_TEST(f.broker.stats().signatures_verified == 1u);
}

BOOST_AUTO_TEST_CASE(a_replay_after_the_window_is_stale_and_moves_nothing) {
  handle_fixture f;
  handle_client peer(f, "198.51.100.7"), attacker(f, "203.0.113.66");
  const auto request = timestamped_register_request(alice_key, alice_long, stamp(f, 30s), random_id());
  BOOST_TEST(peer.exchange(request, f.address)->msg.cls() == cls::success_response);
  // The replay cache has let go of it (2 × window): the window refuses it instead.
  f.skew += 61s;
  auto replayed = attacker.exchange(request, f.address);
  BOOST_TEST(replayed->reason() == "stale timestamp");
  BOOST_TEST(registered_at(f, "alice") == peer.local());
}

BOOST_AUTO_TEST_CASE(an_older_nonce_signed_register_replayed_after_a_timestamped_move_cannot_move_it_back) {
  handle_fixture f;
  handle_client home(f, "198.51.100.7"), away(f, "203.0.113.9");
  // Registered from home over a NONCE; an observer keeps that signed Register.
  const auto challenge = home.exchange(register_request(alice_key, alice, {}, random_id()), f.address);
  const auto signed_at_home = register_request(alice_key, alice, challenge->nonce(), random_id());
  BOOST_TEST(home.exchange(signed_at_home, f.address)->msg.cls() == cls::success_response);
  // The peer moves, registering on its first datagram.
  f.skew += 5s;
  BOOST_TEST(send_stamped(f, away, alice_key, alice) == "ok");
  BOOST_TEST(registered_at(f, "alice") == away.local());
  // Replayed from home, where its NONCE is still valid: older than the move, refused.
  auto replayed = home.exchange(signed_at_home, f.address);
  BOOST_TEST(replayed->error_code() == 438);
  BOOST_TEST(registered_at(f, "alice") == away.local());
}

BOOST_AUTO_TEST_CASE(a_retransmission_from_the_registered_address_is_answered_again) {
  handle_fixture f;
  handle_client peer(f);
  const auto request = timestamped_register_request(alice_key, alice, stamp(f), random_id());
  BOOST_TEST(peer.exchange(request, f.address)->msg.cls() == cls::success_response);
  auto again = peer.exchange(request, f.address);
  BOOST_TEST(again->msg.cls() == cls::success_response);
  BOOST_TEST(f.broker.stats().signatures_verified == 1u);
  BOOST_TEST(f.broker.stats().replays == 0u);
}

BOOST_AUTO_TEST_CASE(a_stale_or_future_timestamp_gets_the_nonce_challenge_and_then_registers_over_the_nonce) {
  for (const std::chrono::seconds off : {-31s, 31s, -600s}) {
    BOOST_TEST_CONTEXT("timestamp off by " << off.count() << " s") {
      handle_fixture f;
      handle_client c(f);
      const auto request = timestamped_register_request(alice_key, alice, stamp(f, off), random_id());
      auto a = c.exchange(request, f.address);
      BOOST_TEST(a->error_code() == 401);
      BOOST_TEST(a->reason() == "stale timestamp");
      BOOST_TEST(a->data.size() <= request.size());
      BOOST_TEST(registered_at(f, "alice").port() == 0);
      auto b = c.exchange(register_request(alice_key, alice, a->nonce(), random_id()), f.address);
      BOOST_TEST(b->msg.cls() == cls::success_response);
      BOOST_TEST(registered_at(f, "alice") == c.local());
      BOOST_TEST(f.broker.stats().stale_timestamps == 1u);
      BOOST_TEST(f.broker.stats().first_datagram == 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_timestamp_signed_by_another_key_registers_nothing) {
  handle_fixture f;
  handle_client c(f);
  auto a = c.exchange(timestamped_register_request(alice_key, alice, stamp(f), random_id(), &bob_key), f.address);
  BOOST_TEST(a->error_code() == 401);
  BOOST_TEST(a->reason() == "bad signature");
  BOOST_TEST(registered_at(f, "alice").port() == 0);
  BOOST_TEST(f.broker.stats().auth_failed == 1u);
}

BOOST_AUTO_TEST_CASE(no_window_means_every_register_goes_through_the_nonce) {
  punch::broker_options o;
  o.timestamp_window = 0s;
  handle_fixture f(o);
  handle_client c(f);
  auto a = c.exchange(timestamped_register_request(alice_key, alice, stamp(f), random_id()), f.address);
  BOOST_TEST(a->error_code() == 401);
  BOOST_TEST(f.broker.stats().signatures_verified == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cookie_mode)

BOOST_AUTO_TEST_CASE(when_busy_a_timestamped_register_is_challenged_before_its_signature_is_checked) {
  punch::broker_options o;
  o.cookie_threshold = 0;  // always busy
  handle_fixture f(o);
  handle_client c(f);
  const auto request = timestamped_register_request(alice_key, alice, stamp(f), random_id());
  auto a = c.exchange(request, f.address);
  BOOST_TEST(a->error_code() == 401);
  BOOST_TEST(a->reason() == "busy");
  BOOST_TEST(a->data.size() <= request.size());
  BOOST_TEST(f.broker.stats().signatures_verified == 0u);
  BOOST_TEST(f.broker.stats().cookie_challenges == 1u);
  // One round trip more, and the peer is registered.
  auto b = c.exchange(register_request(alice_key, alice, a->nonce(), random_id()), f.address);
  BOOST_TEST(b->msg.cls() == cls::success_response);
  BOOST_TEST(registered_at(f, "alice") == c.local());
}

BOOST_AUTO_TEST_CASE(cookie_mode_starts_at_the_threshold_of_verifications_a_second_and_ends_after_it) {
  punch::broker_options o;
  o.cookie_threshold = 2;
  handle_fixture f(o);
  handle_client a(f), b(f), c(f);
  BOOST_TEST(send_stamped(f, a, alice_key, alice) == "ok");
  BOOST_TEST(send_stamped(f, b, bob_key, bob) == "ok");
  // Two verifications within the second: the third pays the NONCE first.
  BOOST_TEST(send_stamped(f, c, carol_key, carol) == "busy");
  f.skew += 2s;
  BOOST_TEST(send_stamped(f, c, carol_key, carol) == "ok");
  BOOST_TEST(f.broker.stats().signatures_verified == 3u);
  BOOST_TEST(f.broker.stats().cookie_challenges == 1u);
}

BOOST_AUTO_TEST_CASE(a_full_replay_cache_sends_peers_through_the_nonce_until_its_entries_expire) {
  punch::broker_options o;
  o.replay_cache_size = 2;
  handle_fixture f(o);
  handle_client a(f), b(f), c(f);
  BOOST_TEST(send_stamped(f, a, alice_key, alice) == "ok");
  f.skew += 10s;
  BOOST_TEST(send_stamped(f, b, bob_key, bob) == "ok");
  BOOST_TEST(send_stamped(f, c, carol_key, carol) == "busy");
  BOOST_TEST(f.broker.stats().signatures_verified == 2u);
  // alice's entry held 2 × 30 s: after it, there is room again.
  f.skew += 51s;
  BOOST_TEST(send_stamped(f, c, carol_key, carol) == "ok");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()
