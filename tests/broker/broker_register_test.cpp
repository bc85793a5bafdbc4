// Register's proof, one datagram at a time through broker::handle() (ring: unit;
// docs/protocol.md, "Register", "NONCE"): the NONCE round trip, the signature by the
// PUBLIC-KEY, the binding of an id to its key, and challenges that never amplify. Time moves
// by the fixture's clock, not by waiting.
#include "broker_handle_support.hpp"

#include <random>

BOOST_AUTO_TEST_SUITE(broker_register_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace broker_test;
namespace stun = punch::stun;
namespace wire = punch::wire;
using cls = stun::message_class;
using kind = punch::broker_event::kind;

namespace {

const punch::identity alice_key = test_identity(1), mallory_key = test_identity(3);
// GCC 12 miscompiles braced temporaries passed to coroutines: the fields are named.
const register_fields alice{"alice", 60, {}}, alice30{"alice", 30, {}}, bob{"bob", 60, {}};

}  // namespace

BOOST_AUTO_TEST_SUITE(broker_register)

BOOST_AUTO_TEST_CASE(a_register_without_nonce_is_challenged_401_with_a_nonce_and_registers_nothing) {
  handle_fixture f;
  f.run([&] {
    handle_client c(f);
    const auto request = register_request(alice_key, alice, {}, random_id());
    BOOST_TEST(request.size() >= wire::answer_bound::reg, "the first Register is padded to the challenge's size");
    auto a = c.exchange(request, f.address);
    BOOST_TEST(a->msg.cls() == cls::error_response);
    BOOST_TEST(a->error_code() == 401);
    BOOST_TEST(a->reason() == "unauthenticated");
    BOOST_TEST(a->nonce().size() == wire::nonce_size);
    BOOST_TEST(a->msg.has_fingerprint());
    BOOST_TEST(a->data.size() <= request.size());

    // The round trip: the NONCE, signed.
    auto b = c.exchange(register_request(alice_key, alice, a->nonce(), random_id()), f.address);
    BOOST_TEST(b->msg.cls() == cls::success_response);
  });
  BOOST_TEST(f.broker.stats().challenges == 1u);
  BOOST_TEST(f.broker.stats().registrations == 1u);
  BOOST_TEST(f.count(kind::registered) == 1u);
}

BOOST_AUTO_TEST_CASE(a_register_without_public_key_is_answered_400) {
  handle_fixture f;
  f.run([&] {
    handle_client c(f);
    auto a = c.exchange(make_request(wire::method::register_peer, random_id(),
                                              [](stun::builder& b) { b.add_string(wire::attr::peer_id, "alice"); },
                                              wire::answer_bound::reg),
                                 f.address);
    BOOST_TEST(a->error_code() == 400);
    BOOST_TEST(a->reason() == "missing PUBLIC-KEY");
    auto b = c.exchange(make_request(wire::method::register_peer, random_id(),
                                              [](stun::builder& b) {
                                                b.add_string(wire::attr::peer_id, "alice");
                                                b.add(wire::attr::public_key, bytes(31));
                                              },
                                              wire::answer_bound::reg),
                                 f.address);
    BOOST_TEST(b->reason() == "bad PUBLIC-KEY");
  });
  BOOST_TEST(f.broker.stats().challenges == 0u);
}

BOOST_AUTO_TEST_CASE(a_bad_signature_is_answered_401_with_a_fresh_nonce_and_counted) {
  handle_fixture f;
  f.run([&] {
    handle_client c(f);
    auto first = c.exchange(register_request(alice_key, alice, {}, random_id()), f.address);
    const bytes nonce = first->nonce();
    // A flipped bit; another key's signature; an attribute after the SIGNATURE (not covered).
    signing flipped;
    flipped.tamper = [](std::span<std::byte> sig) { sig[10] ^= std::byte{1}; };
    signing by_mallory;
    by_mallory.signer = &mallory_key;
    signing trailing;
    trailing.after = [](stun::builder& b) {
      b.add_xor_address(wire::attr::host_candidate, endpoint{asio::ip::make_address("10.9.9.9"), 9});
    };
    const std::vector<signing> forgeries{flipped, by_mallory, trailing};
    for (const auto& how : forgeries) {
      auto a = c.exchange(register_request(alice_key, alice, nonce, random_id(), 0, how), f.address);
      BOOST_TEST(a->error_code() == 401);
      BOOST_TEST(a->reason() == "bad signature");
      BOOST_TEST(a->nonce().size() == wire::nonce_size);
    }
    // No SIGNATURE at all, though the NONCE is there.
    auto unsigned_ = c.exchange(make_request(wire::method::register_peer, random_id(),
                                                      [&](stun::builder& b) {
                                                        b.add_string(wire::attr::peer_id, "alice");
                                                        b.add(wire::attr::public_key, alice_key.key());
                                                        b.add(wire::attr::nonce, nonce);
                                                      }),
                                         f.address);
    BOOST_TEST(unsigned_->reason() == "bad signature");
    BOOST_TEST(!f.registry->find("alice", f.now()).has_value());
    auto good = c.exchange(register_request(alice_key, alice, nonce, random_id()), f.address);
    BOOST_TEST(good->msg.cls() == cls::success_response);
  });
  BOOST_TEST(f.broker.stats().auth_failed == 4u);
  BOOST_TEST(f.broker.stats().challenges == 5u);
}

BOOST_AUTO_TEST_CASE(a_nonce_from_another_source_or_past_its_lifetime_is_answered_438) {
  punch::broker_options o;
  o.nonce_lifetime = 300s;
  handle_fixture f(o);
  f.run([&] {
    handle_client c(f), other(f);
    auto first = c.exchange(register_request(alice_key, alice, {}, random_id()), f.address);
    const bytes nonce = first->nonce();

    // Another port of the same address: a NONCE names the port too.
    auto elsewhere = other.exchange(register_request(alice_key, alice, nonce, random_id()), f.address);
    BOOST_TEST(elsewhere->error_code() == 438);
    BOOST_TEST(elsewhere->reason() == "stale nonce");
    BOOST_TEST(elsewhere->nonce().size() == wire::nonce_size);
    BOOST_TEST((elsewhere->nonce() != nonce));

    // A NONCE that is not one of ours.
    bytes forged = nonce;
    forged.back() ^= std::byte{0x80};
    auto a = c.exchange(register_request(alice_key, alice, forged, random_id()), f.address);
    BOOST_TEST(a->error_code() == 438);

    // Just within its lifetime it is good; past it, stale.
    f.skew += 299s;
    auto late = c.exchange(register_request(alice_key, alice, nonce, random_id()), f.address);
    BOOST_TEST(late->msg.cls() == cls::success_response);
    f.skew += 2s;
    auto stale = c.exchange(register_request(alice_key, alice, nonce, random_id()), f.address);
    BOOST_TEST(stale->error_code() == 438);
    // The fresh one it came with works.
    auto again = c.exchange(register_request(alice_key, alice, stale->nonce(), random_id()), f.address);
    BOOST_TEST(again->msg.cls() == cls::success_response);
  });
  BOOST_TEST(f.broker.stats().challenges == 4u);
  BOOST_TEST(f.broker.stats().auth_failed == 0u);
}

BOOST_AUTO_TEST_CASE(another_key_cannot_take_a_live_id_but_can_once_it_expired) {
  handle_fixture f;
  f.run([&] {
    handle_client owner(f), thief(f);
    auto a = owner.register_as(alice_key, alice30, f.address);
    BOOST_TEST(a->msg.cls() == cls::success_response);
    auto m = thief.register_as(mallory_key, alice30, f.address);
    BOOST_TEST(m->error_code() == 403);
    BOOST_TEST(m->reason() == "PEER-ID held by another key");
    BOOST_TEST((f.registry->find("alice", f.now())->key == alice_key.key()));
    // The owner refreshes as usual.
    auto refresh = owner.register_as(alice_key, alice30, f.address);
    BOOST_TEST(refresh->msg.cls() == cls::success_response);

    f.skew += 31s;
    auto taken = thief.register_as(mallory_key, alice30, f.address);
    BOOST_TEST(taken->msg.cls() == cls::success_response);
    auto stored = f.registry->find("alice", f.now());
    BOOST_TEST((stored->key == mallory_key.key()));
    BOOST_TEST(stored->reflexive == thief.local());
    auto back = owner.register_as(alice_key, alice30, f.address);
    BOOST_TEST(back->error_code() == 403);
  });
}

BOOST_AUTO_TEST_CASE(the_same_key_moves_its_id_to_a_new_source) {
  handle_fixture f;
  f.run([&] {
    handle_client before(f), after(f), other_peer(f);
    before.register_as(alice_key, alice, f.address);
    other_peer.register_as(test_identity(2), bob, f.address);
    // A NAT rebinding: the same key from a new port.
    auto moved = after.register_as(alice_key, alice, f.address);
    BOOST_TEST(moved->msg.cls() == cls::success_response);
    BOOST_TEST(moved->xor_address(stun::attr::xor_mapped_address) == std::optional<endpoint>(after.local()));
    BOOST_TEST(f.registry->find("alice", f.now())->reflexive == after.local());
    // Only the new source speaks for the id now.
    const auto connect = [](std::string_view from) {
      return make_request(wire::method::connect, random_id(), [&](stun::builder& b) {
        b.add_string(wire::attr::peer_id, from);
        b.add_string(wire::attr::target_id, "bob");
      }, wire::answer_bound::connect);
    };
    auto old = before.exchange(connect("alice"), f.address);
    BOOST_TEST(old->reason() == "PEER-ID registered elsewhere");
  });
  // A move is a new registration in the log, not a refresh.
  BOOST_TEST(f.count(kind::registered) == 3u);
  BOOST_TEST(f.count(kind::refreshed) == 0u);
}

BOOST_AUTO_TEST_CASE(a_mapped_candidate_is_stored_handed_out_and_cannot_change_under_a_credential) {
  handle_fixture f;
  const endpoint granted{asio::ip::make_address("198.51.100.9"), 40001};
  register_fields mapped_alice{"alice", 60, {}, granted};
  f.run([&] {
    handle_client a(f), b(f);
    auto registered = a.register_as(alice_key, mapped_alice, f.address);
    BOOST_TEST_REQUIRE(registered->msg.cls() == cls::success_response);
    BOOST_TEST(f.registry->find("alice", f.now())->mapped == granted);
    b.register_as(test_identity(2), bob, f.address);
    auto seen = b.exchange(make_request(wire::method::lookup, random_id(),
                                        [](stun::builder& m) { m.add_string(wire::attr::target_id, "alice"); },
                                        wire::answer_bound::lookup),
                           f.address);
    BOOST_TEST(seen->xor_address(wire::attr::mapped_candidate) == std::optional<endpoint>(granted));
    // The same mapping refreshes by credential; another one must be signed for.
    const auto credential = credential_of(registered->msg);
    auto same = a.exchange(refresh_request(alice_key, mapped_alice, credential, random_id()), f.address);
    BOOST_TEST(same->msg.cls() == cls::success_response);
    register_fields moved = mapped_alice;
    moved.mapped = endpoint{asio::ip::make_address("198.51.100.9"), 40002};
    auto changed = a.exchange(refresh_request(alice_key, moved, credential, random_id()), f.address);
    BOOST_TEST(changed->error_code() == 438);
    BOOST_TEST(f.registry->find("alice", f.now())->mapped == granted);
    // A Register without it clears it.
    a.register_as(alice_key, alice, f.address);
    BOOST_TEST(f.registry->find("alice", f.now())->mapped.port() == 0);
  });
}

BOOST_AUTO_TEST_CASE(a_new_registration_never_inherits_another_peer_s_other_family) {
  handle_fixture f;
  f.run([&] {
    handle_client alice_v4(f, "198.51.100.20"), alice_v6(f, "2001:db8::20"), bob_v4(f, "198.51.100.30");
    alice_v4.register_as(alice_key, alice, f.address);
    alice_v6.register_as(alice_key, alice, f.address);
    BOOST_TEST(f.registry->find("alice", f.now())->reflexive_alt == alice_v6.local());
    // The broker reads alice's registration (both families) on the way...
    auto found = bob_v4.exchange(make_request(wire::method::lookup, random_id(), [](stun::builder& b) {
      b.add_string(wire::attr::target_id, "alice");
    }, wire::answer_bound::lookup), f.address);
    BOOST_TEST(found->msg.cls() == cls::success_response);
    // ...and bob, who registers over IPv4 alone, gets no IPv6 address of hers.
    bob_v4.register_as(test_identity(2), bob, f.address);
    BOOST_TEST(f.registry->find("bob", f.now())->reflexive_alt.port() == 0);
  });
}

BOOST_AUTO_TEST_CASE(an_older_signed_register_replayed_after_a_move_is_answered_438) {
  handle_fixture f;
  f.run([&] {
    handle_client before(f), after(f);
    auto first = before.exchange(register_request(alice_key, alice, {}, random_id()), f.address);
    const auto signed_before = register_request(alice_key, alice, first->nonce(), random_id());
    auto a = before.exchange(signed_before, f.address);
    BOOST_TEST(a->msg.cls() == cls::success_response);
    // Two seconds later the peer moves (a NAT rebinding).
    f.skew += 2s;
    auto moved = after.register_as(alice_key, alice, f.address);
    BOOST_TEST(moved->msg.cls() == cls::success_response);
    // Someone who saw the first signed Register sends it again from the old address: it
    // verifies, and its NONCE is still within its lifetime, but older than the stored one.
    auto replayed = before.exchange(signed_before, f.address);
    BOOST_TEST(replayed->error_code() == 438);
    BOOST_TEST(f.registry->find("alice", f.now())->reflexive == after.local());
    // The very same Register again from where it is registered is a refresh, and harmless.
    auto again = after.register_as(alice_key, alice, f.address);
    BOOST_TEST(again->msg.cls() == cls::success_response);
  });
}

BOOST_AUTO_TEST_CASE(challenges_never_exceed_the_request_whatever_its_size) {
  punch::broker_options o;
  o.rate_limit = 0;  // 300 requests from one address
  handle_fixture f(o);
  f.run([&] {
    handle_client c(f);
    std::mt19937 rng(7);
    const bytes bogus_nonce(wire::nonce_size, std::byte{0x42});
    std::size_t challenged = 0;
    for (int i = 0; i < 300; ++i) {
      // Unsigned (401), with a NONCE that is not ours (438), or a bad signature (401), at
      // every size from the smallest Register up.
      const std::size_t pad = std::uniform_int_distribution<std::size_t>(0, 200)(rng);
      const int variant = i % 3;
      bytes request;
      if (variant == 0) {
        request = register_request(alice_key, {"a", {}, {}}, {}, random_id(), pad);
      } else {
        request = make_request(wire::method::register_peer, random_id(), [&](stun::builder& b) {
          b.add_string(wire::attr::peer_id, "a");
          b.add(wire::attr::public_key, alice_key.key());
          b.add(wire::attr::nonce, variant == 1 ? bogus_nonce : c.nonce);
          if (variant == 2) b.add(wire::attr::signature, bytes(punch::signature_size));
        }, pad);
      }
      auto a = c.exchange(request, f.address);  // checks answer ≤ max(request, 64)
      BOOST_TEST_REQUIRE(a.has_value());
      if (auto n = a->nonce(); !n.empty()) c.nonce = n;
      const int code = a->error_code();
      BOOST_TEST((code == 401 || code == 438 || (code == 400 && a->reason().starts_with("pad request to "))),
                 "answered " << code << " " << a->reason());
      if (code != 400) {
        ++challenged;
        BOOST_TEST(a->data.size() <= request.size(), "a challenge larger than its request");
      } else {
        // Asked to pad: to exactly the challenge's size, which is more than was sent.
        BOOST_TEST(std::stoul(a->reason().substr(15)) > request.size());
      }
    }
    BOOST_TEST(challenged > 100u);
  });
  BOOST_TEST(f.registry->size() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()  // broker_register_test
