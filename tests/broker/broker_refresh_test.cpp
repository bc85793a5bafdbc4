// Register refreshes by REFRESH-CREDENTIAL, one datagram at a time through broker::handle()
// (ring: unit; docs/protocol.md, "Refresh"): the answer to a signed Register carries a
// credential; a Register with it, from the same address, for the same id, key and candidates,
// extends the registration (and takes its NAT-MAPPING) without a signature; anything else is
// a 438 with a fresh NONCE and changes nothing. A session's keepalive over real UDP is in
// broker_session_refresh_test.cpp. Time moves by the fixture's clock, not by waiting.
#include "broker_handle_support.hpp"

BOOST_AUTO_TEST_SUITE(broker_refresh_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace broker_test;
namespace stun = punch::stun;
namespace wire = punch::wire;
using cls = stun::message_class;
using kind = punch::broker_event::kind;

namespace {

const punch::identity alice_key = test_identity(1), mallory_key = test_identity(3);
const endpoint lan{asio::ip::make_address("192.168.1.2"), 4000}, other_lan{asio::ip::make_address("192.168.1.3"), 4000};
// GCC 12 miscompiles braced temporaries passed to coroutines: the fields are named.
const register_fields alice{"alice", 600, {lan}}, alice_moved_lan{"alice", 600, {other_lan}},
    alice_no_host{"alice", 600, {}}, bob{"bob", 600, {lan}};

punch::broker_options long_lived() {
  punch::broker_options o;
  o.max_lifetime = 600s;
  o.refresh_lifetime = 300s;
  return o;
}

// The answer is a refusal of a refresh: 438 with `reason` and a fresh NONCE, no credential.
void expect_refused(const std::optional<answer>& a, const char* reason) {
  BOOST_TEST_REQUIRE(a.has_value());
  BOOST_TEST(a->msg.cls() == cls::error_response);
  BOOST_TEST(a->error_code() == 438);
  BOOST_TEST(a->reason() == reason);
  BOOST_TEST(a->nonce().size() == wire::nonce_size);
  BOOST_TEST(a->credential().empty());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(broker_refresh)

BOOST_AUTO_TEST_CASE(a_signed_register_gives_a_credential_and_a_refresh_with_it_needs_no_signature) {
  handle_fixture f(long_lived());
  f.freeze();
  f.run([&] {
    handle_client c(f);
    auto signed_answer = c.register_as(alice_key, alice, f.address);
    BOOST_TEST(signed_answer->msg.cls() == cls::success_response);
    BOOST_TEST(signed_answer->credential().size() == wire::refresh_credential_size);
    BOOST_TEST(signed_answer->data.size() <= wire::answer_bound::reg_success);
    BOOST_TEST(f.broker.stats().signatures_verified == 1u);

    // 50 s later (of a 600 s lifetime), the keepalive's refresh.
    f.skew += 50s;
    const auto request = refresh_request(alice_key, alice, c.credential, random_id());
    BOOST_TEST(request.size() >= wire::answer_bound::reg, "a refresh is padded like an unsigned Register");
    auto a = c.exchange(request, f.address);
    BOOST_TEST(a->msg.cls() == cls::success_response);
    BOOST_TEST(a->xor_address(stun::attr::xor_mapped_address) == std::optional<endpoint>(c.local()));
    BOOST_TEST(a->u32(wire::attr::lifetime) == std::optional<std::uint32_t>(600));
    // Nothing to sign and nothing new to hold: no NONCE, no new credential.
    BOOST_TEST(a->nonce().empty());
    BOOST_TEST(a->credential().empty());
    // The registration runs 600 s from the refresh, not from the signed Register.
    f.skew += 590s;
    auto stored = f.registry->find("alice", f.now());
    BOOST_TEST_REQUIRE(stored.has_value());
    BOOST_TEST(stored->reflexive == c.local());
    BOOST_TEST(stored->host == std::vector<endpoint>{lan});
    BOOST_TEST((stored->key == alice_key.key()));
  });
  BOOST_TEST(f.broker.stats().signatures_verified == 1u);
  BOOST_TEST(f.broker.stats().refreshes == 1u);
  BOOST_TEST(f.broker.stats().registrations == 2u);
  BOOST_TEST(f.count(kind::registered) == 1u);
  BOOST_TEST(f.count(kind::refreshed) == 1u);
}

BOOST_AUTO_TEST_CASE(a_credential_replayed_from_another_address_or_port_is_refused_and_moves_nothing) {
  handle_fixture f(long_lived());
  f.run([&] {
    handle_client c(f), other_port(f), other_address(f, "127.0.0.2");
    c.register_as(alice_key, alice, f.address);
    const bytes credential = c.credential;
    expect_refused(other_port.exchange(refresh_request(alice_key, alice, credential, random_id()), f.address),
                   "bad credential");
    expect_refused(other_address.exchange(refresh_request(alice_key, alice, credential, random_id()), f.address),
                   "bad credential");
    BOOST_TEST(f.registry->find("alice", f.now())->reflexive == c.local());
    // From where it was issued it is good.
    auto a = c.exchange(refresh_request(alice_key, alice, credential, random_id()), f.address);
    BOOST_TEST(a->msg.cls() == cls::success_response);
  });
  BOOST_TEST(f.broker.stats().refreshes == 1u);
  BOOST_TEST(f.broker.stats().signatures_verified == 1u);
}

BOOST_AUTO_TEST_CASE(a_refresh_that_changes_candidates_is_refused_and_the_peer_signs_instead) {
  handle_fixture f(long_lived());
  f.run([&] {
    handle_client c(f);
    c.register_as(alice_key, alice, f.address);
    const bytes credential = c.credential;
    expect_refused(c.exchange(refresh_request(alice_key, alice_moved_lan, credential, random_id()), f.address),
                   "registration changed");
    expect_refused(c.exchange(refresh_request(alice_key, alice_no_host, credential, random_id()), f.address),
                   "registration changed");
    auto stored = f.registry->find("alice", f.now());
    BOOST_TEST(stored->host == std::vector<endpoint>{lan});
    // The change goes through signed, over the NONCE of the refusal.
    auto changed = c.register_as(alice_key, alice_moved_lan, f.address);
    BOOST_TEST(changed->msg.cls() == cls::success_response);
    BOOST_TEST(f.registry->find("alice", f.now())->host == std::vector<endpoint>{other_lan});
    // The old credential cannot put the old candidates back.
    expect_refused(c.exchange(refresh_request(alice_key, alice, credential, random_id()), f.address),
                   "registration changed");
    BOOST_TEST(f.registry->find("alice", f.now())->host == std::vector<endpoint>{other_lan});
  });
  BOOST_TEST(f.broker.stats().refreshes == 0u);
  BOOST_TEST(f.broker.stats().signatures_verified == 2u);
}

BOOST_AUTO_TEST_CASE(a_refresh_may_tell_the_nat_mapping_measured_after_registering_without_a_signature) {
  handle_fixture f(long_lived());
  f.run([&] {
    handle_client c(f);
    c.register_as(alice_key, alice, f.address);
    punch::registration_record stored;
    BOOST_TEST_REQUIRE(f.registry->find("alice", f.now(), stored));
    BOOST_TEST(stored.nat == 0u);
    auto a = c.exchange(refresh_request(alice_key, alice, c.credential, random_id(), 2), f.address);
    BOOST_TEST(a->msg.cls() == cls::success_response);
    BOOST_TEST_REQUIRE(f.registry->find("alice", f.now(), stored));
    BOOST_TEST(stored.nat == 2u);
  });
  BOOST_TEST(f.broker.stats().refreshes == 1u);
  BOOST_TEST(f.broker.stats().signatures_verified == 1u);
}

BOOST_AUTO_TEST_CASE(a_credential_is_refused_for_another_key_or_id_and_when_forged) {
  handle_fixture f(long_lived());
  f.run([&] {
    handle_client c(f);
    c.register_as(alice_key, alice, f.address);
    const bytes credential = c.credential;
    // Another key, another id.
    expect_refused(c.exchange(refresh_request(mallory_key, alice, credential, random_id()), f.address),
                   "bad credential");
    expect_refused(c.exchange(refresh_request(alice_key, bob, credential, random_id()), f.address),
                   "bad credential");
    // A flipped bit in the MAC; a wrong size; the broker's NONCE in its place (it is not one).
    bytes flipped = credential;
    flipped.back() ^= std::byte{0x01};
    expect_refused(c.exchange(refresh_request(alice_key, alice, flipped, random_id()), f.address),
                   "bad credential");
    const bytes shorter(credential.begin(), credential.end() - 1);
    expect_refused(c.exchange(refresh_request(alice_key, alice, shorter, random_id()), f.address),
                   "bad credential");
    BOOST_TEST_REQUIRE(c.nonce.size() == wire::nonce_size);
    expect_refused(c.exchange(refresh_request(alice_key, alice, c.nonce, random_id()), f.address),
                   "bad credential");
    // An issue time moved back by one second, within the lifetime: the MAC covers it.
    bytes earlier = credential;
    std::uint32_t t = 0;
    for (int i = 0; i < 4; ++i) t = (t << 8) | std::to_integer<std::uint32_t>(earlier[static_cast<std::size_t>(i)]);
    --t;
    for (int i = 0; i < 4; ++i) earlier[static_cast<std::size_t>(i)] = std::byte(t >> (24 - 8 * i));
    expect_refused(c.exchange(refresh_request(alice_key, alice, earlier, random_id()), f.address),
                   "bad credential");
    BOOST_TEST(f.count(kind::refreshed) == 0u);
  });
  BOOST_TEST(f.broker.stats().refreshes == 0u);
  BOOST_TEST(f.broker.stats().signatures_verified == 1u);
  // The first Register's 401 and the six refusals, each with a NONCE.
  BOOST_TEST(f.broker.stats().challenges == 7u);
}

BOOST_AUTO_TEST_CASE(a_credential_past_its_lifetime_is_refused_438_and_signing_again_gives_a_new_one) {
  handle_fixture f(long_lived());
  f.freeze();
  f.run([&] {
    handle_client c(f);
    c.register_as(alice_key, alice, f.address);
    const bytes first = c.credential;
    f.skew += 300s;
    auto last_good = c.exchange(refresh_request(alice_key, alice, first, random_id()), f.address);
    BOOST_TEST(last_good->msg.cls() == cls::success_response);
    f.skew += 1s;
    auto stale = c.exchange(refresh_request(alice_key, alice, first, random_id()), f.address);
    expect_refused(stale, "stale credential");
    // The registration itself is live (600 s from the refresh): only the credential expired.
    BOOST_TEST(f.registry->find("alice", f.now()).has_value());
    c.nonce = stale->nonce();
    auto resigned = c.register_as(alice_key, alice, f.address);
    BOOST_TEST(resigned->msg.cls() == cls::success_response);
    BOOST_TEST((c.credential != first));
    auto a = c.exchange(refresh_request(alice_key, alice, c.credential, random_id()), f.address);
    BOOST_TEST(a->msg.cls() == cls::success_response);
  });
  BOOST_TEST(f.broker.stats().refreshes == 2u);
  BOOST_TEST(f.broker.stats().signatures_verified == 2u);
}

BOOST_AUTO_TEST_CASE(a_credential_from_before_a_move_or_an_expiry_cannot_bring_the_old_registration_back) {
  punch::broker_options o = long_lived();
  o.min_lifetime = 10s;
  handle_fixture f(o);
  f.freeze();
  f.run([&] {
    handle_client before(f), after(f), thief(f);
    before.register_as(alice_key, alice, f.address);
    const bytes old = before.credential;
    // A NAT rebinding: the peer signs from its new address.
    f.skew += 2s;
    after.register_as(alice_key, alice, f.address);
    // Someone who copied the old credential sends it from the old address, where it was issued.
    expect_refused(before.exchange(refresh_request(alice_key, alice, old, random_id()), f.address),
                   "registration changed");
    BOOST_TEST(f.registry->find("alice", f.now())->reflexive == after.local());

    // Expired, and taken by another key: the old credential neither revives nor takes it back.
    const register_fields short_lived{"alice", 10, {lan}};
    after.register_as(alice_key, short_lived, f.address);
    const bytes expiring = after.credential;
    f.skew += 11s;
    expect_refused(after.exchange(refresh_request(alice_key, short_lived, expiring, random_id()), f.address),
                   "registration changed");
    BOOST_TEST(!f.registry->find("alice", f.now()).has_value());
    auto taken = thief.register_as(mallory_key, short_lived, f.address);
    BOOST_TEST(taken->msg.cls() == cls::success_response);
    expect_refused(after.exchange(refresh_request(alice_key, short_lived, expiring, random_id()), f.address),
                   "registration changed");
    BOOST_TEST((f.registry->find("alice", f.now())->key == mallory_key.key()));
  });
  BOOST_TEST(f.broker.stats().refreshes == 0u);
}

BOOST_AUTO_TEST_CASE(a_register_with_a_nonce_is_a_signed_one_even_with_a_credential) {
  handle_fixture f(long_lived());
  f.run([&] {
    handle_client c(f);
    c.register_as(alice_key, alice, f.address);
    // A good credential after the SIGNATURE, which does not cover it: with a NONCE the
    // Register is judged as a signed one (401), never as a refresh.
    signing with_credential;
    const bytes credential = c.credential;
    with_credential.after = [&](stun::builder& b) { b.add(wire::attr::refresh_credential, credential); };
    auto a = c.exchange(register_request(alice_key, alice, c.nonce, random_id(), 0, with_credential), f.address);
    BOOST_TEST(a->error_code() == 401);
    BOOST_TEST(a->reason() == "bad signature");
  });
  BOOST_TEST(f.broker.stats().refreshes == 0u);
  BOOST_TEST(f.broker.stats().auth_failed == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()  // broker_refresh_test
