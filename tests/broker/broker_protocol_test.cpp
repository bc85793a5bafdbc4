// The broker's answers, one datagram at a time through broker::handle() (ring: unit):
// Binding (RFC 8489 and RFC 3489 clients), Register, Lookup, the amplification budget and the
// handling of junk. Register's NONCE, signature and key binding are in
// broker_register_test.cpp, refreshes in broker_refresh_test.cpp, the rate limit in
// broker_rate_limit_test.cpp, Connect and Introduce in broker_connect_test.cpp (real UDP).
#include "broker_handle_support.hpp"

BOOST_AUTO_TEST_SUITE(broker_protocol_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace broker_test;
namespace stun = punch::stun;
namespace wire = punch::wire;
using cls = stun::message_class;

namespace {

const punch::identity alice_key = test_identity(1), bob_key = test_identity(2);

// An unsigned Register for `peer` (answered before any NONCE or key is looked at when its
// id is wrong).
bytes register_request(const stun::transaction_id& id, std::string_view peer) {
  return make_request(wire::method::register_peer, id,
                      [&](stun::builder& b) { b.add_string(wire::attr::peer_id, peer); });
}

bytes lookup_request(const stun::transaction_id& id, std::string_view target, std::size_t pad_to = 400) {
  return make_request(wire::method::lookup, id,
                      [&](stun::builder& b) { b.add_string(wire::attr::target_id, target); }, pad_to);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(broker_protocol)

BOOST_AUTO_TEST_CASE(binding_request_gets_the_clients_own_address_in_xor_mapped_address) {
  handle_fixture f;
  f.run([&] {
    handle_client c(f);
    const auto id = random_id();
    // A plain client (no FINGERPRINT) gets none back, and no SOFTWARE either.
    auto a = c.exchange(make_request(wire::method::binding, id, {}, 0, false), f.address);
    BOOST_TEST(a->msg.cls() == cls::success_response);
    BOOST_TEST(a->msg.method() == wire::method::binding);
    BOOST_TEST((a->msg.id() == id));
    BOOST_TEST(a->xor_address(stun::attr::xor_mapped_address) == std::optional<endpoint>(c.local()));
    BOOST_TEST(!a->msg.has_fingerprint());
    BOOST_TEST(!a->msg.find(stun::attr::software).has_value());
    BOOST_TEST(a->data.size() == 32u);

    auto b = c.exchange(make_request(wire::method::binding, random_id()), f.address);
    BOOST_TEST(b->msg.has_fingerprint());
    BOOST_TEST(b->xor_address(stun::attr::xor_mapped_address) == std::optional<endpoint>(c.local()));
  });
  BOOST_TEST(f.broker.stats().bindings == 2u);
}

BOOST_AUTO_TEST_CASE(rfc3489_binding_gets_mapped_address_and_its_whole_transaction_id_back) {
  handle_fixture f;
  f.run([&] {
    handle_client c(f);
    // RFC 3489: 128-bit transaction id where RFC 8489 has the magic cookie.
    bytes request = make_request(wire::method::binding, random_id(), {}, 0, false);
    const bytes cookie_field{std::byte{0x5A}, std::byte{0x01}, std::byte{0x02}, std::byte{0x03}};
    std::copy(cookie_field.begin(), cookie_field.end(), request.begin() + 4);
    c.send(request, f.address);
    auto data = c.receive();
    BOOST_TEST_REQUIRE(data.has_value());
    BOOST_TEST((std::equal(data->begin() + 4, data->begin() + 20, request.begin() + 4)));
    // Parse with the cookie restored: MAPPED-ADDRESS in the clear, no XOR-MAPPED-ADDRESS.
    std::copy(request.begin() + 4, request.begin() + 8, data->begin() + 4);  // stays the client's
    bytes restored = *data;
    const bytes magic{std::byte{0x21}, std::byte{0x12}, std::byte{0xA4}, std::byte{0x42}};
    std::copy(magic.begin(), magic.end(), restored.begin() + 4);
    auto a = parse(restored);
    BOOST_TEST_REQUIRE(a.has_value());
    BOOST_TEST(a->msg.cls() == cls::success_response);
    auto mapped = a->msg.find(stun::attr::mapped_address);
    BOOST_TEST_REQUIRE(mapped.has_value());
    punch::error_code ec;
    BOOST_TEST(stun::decode_address(*mapped, ec) == std::optional<endpoint>(c.local()));
    BOOST_TEST(!a->msg.find(stun::attr::xor_mapped_address).has_value());
  });
}

BOOST_AUTO_TEST_CASE(binding_asking_to_answer_from_another_address_gets_420_unknown_attribute) {
  handle_fixture f;
  f.run([&] {
    handle_client c(f);
    // CHANGE-REQUEST (RFC 5780 §7.2) with "change IP": the broker has no other address.
    auto a = c.exchange(make_request(wire::method::binding, random_id(),
                                              [](stun::builder& b) { b.add_u32(0x0003, 0x4); }),
                                 f.address);
    BOOST_TEST(a->msg.cls() == cls::error_response);
    BOOST_TEST(a->error_code() == 420);
    auto listed = a->msg.find(stun::attr::unknown_attributes);
    BOOST_TEST_REQUIRE(listed.has_value());
    BOOST_TEST(listed->value.size() == 2u);
    BOOST_TEST(std::to_integer<int>(listed->value[1]) == 0x03);

    // "Change nothing" is harmless and answered normally.
    auto b = c.exchange(make_request(wire::method::binding, random_id(),
                                              [](stun::builder& b) { b.add_u32(0x0003, 0); }),
                                 f.address);
    BOOST_TEST(b->msg.cls() == cls::success_response);
  });
}

BOOST_AUTO_TEST_CASE(register_returns_the_reflexive_address_and_a_clamped_lifetime) {
  punch::broker_options o;
  o.min_lifetime = 10s;
  o.default_lifetime = 60s;
  o.max_lifetime = 600s;
  handle_fixture f(o);
  f.run([&] {
    handle_client c(f);
    const endpoint host{asio::ip::make_address("192.168.1.20"), 4000};
    const endpoint host6{asio::ip::make_address("fd00::20"), 4001};
    const std::vector<endpoint> hosts{host, host6};
    // GCC 12 miscompiles braced temporaries passed to coroutines: the fields are named.
    const register_fields alice{"alice", 30, hosts};
    auto a = c.register_as(alice_key, alice, f.address);
    BOOST_TEST(a->msg.cls() == cls::success_response);
    BOOST_TEST(a->msg.has_fingerprint());
    BOOST_TEST(a->xor_address(stun::attr::xor_mapped_address) == std::optional<endpoint>(c.local()));
    BOOST_TEST(a->u32(wire::attr::lifetime) == std::optional<std::uint32_t>(30));
    BOOST_TEST(a->credential().size() == wire::refresh_credential_size,
               "the success answer carries the REFRESH-CREDENTIAL for the keepalive");
    BOOST_TEST(a->nonce().empty(), "the success answer carries a credential, not a NONCE");
    BOOST_TEST(a->data.size() <= wire::answer_bound::reg_success);

    auto stored = f.registry->find("alice", f.now());
    BOOST_TEST_REQUIRE(stored.has_value());
    BOOST_TEST(stored->reflexive == c.local());
    BOOST_TEST((stored->host == hosts));
    BOOST_TEST((stored->key == alice_key.key()));

    // GCC 12 miscompiles braced lists in coroutines ("array used as initializer"): name them.
    const std::vector<std::pair<std::optional<std::uint32_t>, std::uint32_t>> clamps{
        {5, 10}, {100000, 600}, {std::nullopt, 60}};
    for (auto [asked, granted] : clamps) {
      register_fields again{"alice", asked, {}};
      auto r = c.register_as(alice_key, again, f.address);
      BOOST_TEST(r->u32(wire::attr::lifetime) == std::optional<std::uint32_t>(granted));
    }
  });
  BOOST_TEST(f.count(punch::broker_event::kind::registered) == 1u);
  BOOST_TEST(f.count(punch::broker_event::kind::refreshed) == 3u);
  BOOST_TEST(f.events.front().lifetime == 30s);
  // One challenge (the first Register); the refreshes signed the NONCE of the answer before.
  BOOST_TEST(f.broker.stats().challenges == 1u);
  BOOST_TEST(f.broker.stats().registrations == 4u);
}

BOOST_AUTO_TEST_CASE(register_with_an_invalid_id_is_answered_400_naming_the_problem) {
  handle_fixture f;
  f.run([&] {
    handle_client c(f);
    const std::vector<std::pair<std::string, std::string>> invalid{
        {"", "PEER-ID is empty"},
        {std::string(65, 'a'), "PEER-ID over 64 bytes"},
        {"a b", "PEER-ID has a bad character"}};
    for (const auto& [id, reason] : invalid) {
      BOOST_TEST_CONTEXT("id \"" << id << "\"") {
        auto a = c.exchange(register_request(random_id(), id), f.address);
        BOOST_TEST(a->msg.cls() == cls::error_response);
        BOOST_TEST(a->msg.method() == wire::method::register_peer);
        BOOST_TEST(a->error_code() == 400);
        BOOST_TEST(a->reason() == reason);
        BOOST_TEST(a->msg.has_fingerprint());
      }
    }
    auto missing = c.exchange(make_request(wire::method::register_peer, random_id()), f.address);
    BOOST_TEST(missing->error_code() == 400);
    BOOST_TEST(missing->reason() == "missing PEER-ID");
    // 64 characters is the longest valid id.
    const register_fields longest_id{std::string(64, 'z'), {}, {}};
    auto longest = c.register_as(alice_key, longest_id, f.address);
    BOOST_TEST(longest->msg.cls() == cls::success_response);
  });
  BOOST_TEST(f.registry->size() == 1u);
}

BOOST_AUTO_TEST_CASE(register_beyond_capacity_is_answered_508) {
  handle_fixture f({}, 1);
  f.run([&] {
    handle_client c(f);
    const register_fields alice{"alice", {}, {}}, bob{"bob", {}, {}};
    auto a = c.register_as(alice_key, alice, f.address);
    BOOST_TEST(a->msg.cls() == cls::success_response);
    auto b = c.register_as(bob_key, bob, f.address);
    BOOST_TEST(b->error_code() == 508);
    BOOST_TEST(b->reason() == "registry full");
  });
}

BOOST_AUTO_TEST_CASE(lookup_of_an_unknown_id_is_answered_404) {
  handle_fixture f;
  f.run([&] {
    handle_client c(f);
    auto a = c.exchange(lookup_request(random_id(), "nobody"), f.address);
    BOOST_TEST(a->msg.cls() == cls::error_response);
    BOOST_TEST(a->msg.method() == wire::method::lookup);
    BOOST_TEST(a->error_code() == 404);
  });
  BOOST_TEST(f.broker.stats().lookups == 1u);
}

BOOST_AUTO_TEST_CASE(lookup_of_a_registered_peer_returns_its_candidates) {
  handle_fixture f;
  f.run([&] {
    handle_client bob(f), alice(f);
    const std::vector<endpoint> host{{asio::ip::make_address("10.0.0.7"), 5000},
                                     {asio::ip::make_address("fd00::7"), 5001}};
    const register_fields fields{"bob", 60, host};
    bob.register_as(bob_key, fields, f.address);
    auto a = alice.exchange(lookup_request(random_id(), "bob"), f.address);
    BOOST_TEST_REQUIRE(a->msg.cls() == cls::success_response);
    BOOST_TEST(a->text(wire::attr::peer_id) == "bob");
    BOOST_TEST((a->key() == bob_key.key()));
    // PUBLIC-KEY right after PEER-ID (docs/protocol.md, "Lookup").
    auto it = a->msg.begin();
    BOOST_TEST((*it).type == wire::attr::peer_id);
    BOOST_TEST((*++it).type == wire::attr::public_key);
    BOOST_TEST(a->xor_address(wire::attr::reflexive_candidate) == std::optional<endpoint>(bob.local()));
    BOOST_TEST((a->all_xor_addresses(wire::attr::host_candidate) == host));
    BOOST_TEST(a->msg.has_fingerprint());
  });
}

BOOST_AUTO_TEST_CASE(an_answer_larger_than_its_request_is_refused_until_the_request_is_padded) {
  handle_fixture f;
  f.run([&] {
    handle_client bob(f), alice(f);
    std::vector<endpoint> host;
    for (unsigned short i = 0; i < 8; ++i) host.emplace_back(asio::ip::make_address("fd00::1"), 6000 + i);
    const register_fields fields{"bob", 60, host};
    bob.register_as(bob_key, fields, f.address);
    // Unpadded: the 36-byte request would get ~300 bytes; the broker asks for padding instead.
    auto small = alice.exchange(lookup_request(random_id(), "bob", 0), f.address);
    BOOST_TEST(small->error_code() == 400);
    BOOST_TEST(small->reason().starts_with("pad request to "));
    BOOST_TEST(small->data.size() <= response_floor);
    const auto needed = std::stoul(small->reason().substr(15));
    auto padded = alice.exchange(lookup_request(random_id(), "bob", needed), f.address);
    BOOST_TEST(padded->msg.cls() == cls::success_response);
    BOOST_TEST(padded->data.size() == needed);
    BOOST_TEST(padded->all_xor_addresses(wire::attr::host_candidate).size() == 8u);
  });
}

BOOST_AUTO_TEST_CASE(unknown_methods_and_attributes_are_answered_with_errors) {
  handle_fixture f;
  f.run([&] {
    handle_client c(f);
    auto m = c.exchange(make_request(0x0EE, random_id()), f.address);
    BOOST_TEST(m->msg.cls() == cls::error_response);
    BOOST_TEST(m->msg.method() == 0x0EEu);
    BOOST_TEST(m->error_code() == 400);
    // Introduce is sent by the broker, never to it.
    auto i = c.exchange(make_request(wire::method::introduce, random_id()), f.address);
    BOOST_TEST(i->error_code() == 400);
    auto with_unknown = make_request(wire::method::register_peer, random_id(), [](stun::builder& b) {
      b.add_string(wire::attr::peer_id, "alice");
      b.add_u32(0x4AFF, 1);  // comprehension-required, unknown to the broker
    });
    auto u = c.exchange(with_unknown, f.address);
    BOOST_TEST(u->error_code() == 420);
    BOOST_TEST(f.registry->size() == 0u);
  });
}

BOOST_AUTO_TEST_CASE(junk_is_counted_as_malformed_and_the_broker_keeps_answering) {
  // 209 datagrams from one address: more than the default burst of the rate limit.
  punch::broker_options o;
  o.rate_limit = 0;
  handle_fixture f(o);
  f.run([&] {
    handle_client c(f);
    std::vector<bytes> junk;
    junk.push_back({});                                               // empty datagram
    junk.push_back(bytes(7, std::byte{0xFF}));                        // too short, not STUN
    bytes random(300);
    randombytes_buf(random.data(), random.size());
    random[0] = std::byte{0x80};                                      // top bits set: not STUN
    junk.push_back(random);
    auto truncated = register_request(random_id(), "alice");
    truncated.resize(truncated.size() - 6);                           // length field disagrees
    junk.push_back(truncated);
    auto bad_fp = register_request(random_id(), "alice");
    bad_fp.back() ^= std::byte{1};                                    // FINGERPRINT mismatch
    junk.push_back(bad_fp);
    junk.push_back(make_message(cls::indication, wire::method::binding, random_id()));
    junk.push_back(make_message(cls::success_response, wire::method::lookup, random_id()));
    auto classic_lookup = make_request(wire::method::lookup, random_id(), {}, 0, false);
    classic_lookup[4] = std::byte{0};                                 // no cookie, not Binding
    junk.push_back(classic_lookup);
    for (const auto& j : junk) c.send(j, f.address);
    for (int i = 0; i < 200; ++i) c.send(random, f.address);
    // Answers come in order: the Binding's is the first thing this socket receives.
    auto a = c.exchange(make_request(wire::method::binding, random_id()), f.address);
    BOOST_TEST(a->msg.cls() == cls::success_response);
  });
  BOOST_TEST(f.broker.stats().malformed == 8u + 200u);
  BOOST_TEST(f.broker.stats().received == 8u + 200u + 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()  // broker_protocol_test
