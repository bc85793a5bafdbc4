// The TURN codec (RFC 8656 on RFC 8489): the long-term key and MESSAGE-INTEGRITY against the
// RFC 5769 §2.4 vector, integrity written by the builder and checked, TURN attributes,
// ChannelData both ways with every truncation and every bad length rejected, and the TURN REST
// credentials against values computed independently (Python's hmac and base64).
#include "stun_test_support.hpp"

#include "punch/turn.hpp"
#include "punch/wire/turn.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <span>

using namespace punch;
using namespace punch::stun::test;

namespace {

// RFC 5769 §2.4: USERNAME "マトリックス", NONCE, REALM "example.org", MESSAGE-INTEGRITY; the
// password "The<U+00AD>M<U+00AA>tr<U+2168>" is "TheMatrIX" after SASLprep (as the RFC says).
const bytes long_term_request = from_hex(
    "0001 0060  2112a442  78ad3433 c6ad72c0 29da412e"
    "0006 0012  e3839ee3 8388e383 aae38383 e382afe3 82b90000"
    "0015 001c  662f2f34 39396b39 35346436 4f4c3334 6f4c3946 53547679 36347341"
    "0014 000b  6578616d 706c652e 6f726700"
    "0008 0014  f6702465 6dd64a3e 02b8e071 2e85c9a2 8ca89666");
const std::string_view rfc_username = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";

stun::message parse(const bytes& b) {
  error_code ec;
  auto m = stun::message::parse(b, ec);
  BOOST_TEST_REQUIRE(!ec, ec.message());
  return *m;
}

std::span<const std::byte> as_bytes(const turn::long_term_key& k) { return k; }

bool same(std::span<const std::byte> a, std::span<const std::byte> b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

}  // namespace

BOOST_AUTO_TEST_SUITE(wire_turn)

BOOST_AUTO_TEST_CASE(long_term_key_is_md5_of_user_realm_and_password) {
  // hashlib.md5(b"user:realm:pass").hexdigest()
  BOOST_TEST(same(as_bytes(turn::make_long_term_key("user", "realm", "pass")), from_hex("8493fbc5 3ba582fb 4c044c45 6bdc40eb")));
  BOOST_TEST(same(as_bytes(turn::make_long_term_key(rfc_username, "example.org", "TheMatrIX")), from_hex("e8ca7ad5 9d5eb051 8e312911 d2dab2a9")));
}

BOOST_AUTO_TEST_CASE(rfc5769_long_term_vector_verifies_with_the_rfc_credentials) {
  const auto m = parse(long_term_request);
  const auto key = turn::make_long_term_key(rfc_username, "example.org", "TheMatrIX");
  BOOST_TEST(turn::check_message_integrity(m, key));
  BOOST_TEST(!turn::check_message_integrity(m, turn::make_long_term_key(rfc_username, "example.org", "TheMatrix")));
}

BOOST_AUTO_TEST_CASE(our_builder_writes_the_rfc5769_message_integrity_bytes) {
  const auto sample = parse(long_term_request);
  std::array<std::byte, stun::max_message_size> buf;
  stun::builder b(buf, stun::message_class::request, stun::method::binding, sample.id());
  for (auto type : {turn::attr::username, turn::attr::nonce, turn::attr::realm}) b.add(type, sample.find(type)->value);
  turn::add_message_integrity(b, turn::make_long_term_key(rfc_username, "example.org", "TheMatrIX"));
  const auto out = b.finish();
  BOOST_TEST(same(out, std::span<const std::byte>(long_term_request)));
}

BOOST_AUTO_TEST_CASE(integrity_survives_a_fingerprint_and_fails_on_any_changed_byte) {
  const auto key = turn::make_long_term_key("alice", "punch.test", "secret");
  std::array<std::byte, stun::max_message_size> buf;
  stun::builder b(buf, stun::message_class::request, turn::method::allocate, some_id);
  turn::add_requested_transport(b);
  b.add_string(turn::attr::username, "alice");
  turn::add_message_integrity(b, key);
  const auto out = b.finish_with_fingerprint();
  const bytes good(out.begin(), out.end());
  BOOST_TEST(turn::check_message_integrity(parse(good), key));
  // Every byte before MESSAGE-INTEGRITY's value is covered; a change there must be caught (the
  // FINGERPRINT is recomputed so that parse accepts the changed message where it can).
  const std::size_t covered_end = good.size() - stun::fingerprint_size - turn::message_integrity_size;
  for (std::size_t i = 0; i < covered_end; ++i) {
    bytes bad = good;
    bad[i] ^= std::byte{0x01};
    const auto fp = stun::fingerprint_of(std::span<const std::byte>(bad).first(bad.size() - 4 - 4));
    for (int k = 0; k < 4; ++k) bad[bad.size() - 1 - k] = static_cast<std::byte>((fp >> (8 * k)) & 0xFF);
    error_code ec;
    auto m = stun::message::parse(bad, ec);
    if (m) BOOST_TEST(!turn::check_message_integrity(*m, key), "byte " << i);
  }
}

BOOST_AUTO_TEST_CASE(a_message_without_integrity_or_with_a_short_one_does_not_verify) {
  const auto key = turn::make_long_term_key("a", "b", "c");
  std::array<std::byte, stun::max_message_size> buf;
  stun::builder b(buf, stun::message_class::success_response, turn::method::allocate, some_id);
  b.add_u32(turn::attr::lifetime, 600);
  BOOST_TEST(!turn::check_message_integrity(parse(bytes(b.finish().begin(), b.finish().end())), key));
  stun::builder s(buf, stun::message_class::success_response, turn::method::allocate, some_id);
  s.add(turn::attr::message_integrity, from_hex("00112233 44556677 8899aabb ccddeeff"));
  const auto out = s.finish();
  BOOST_TEST(!turn::check_message_integrity(parse(bytes(out.begin(), out.end())), key));
}

BOOST_AUTO_TEST_CASE(requested_transport_and_channel_number_have_the_rfc_layouts) {
  std::array<std::byte, stun::max_message_size> buf;
  stun::builder b(buf, stun::message_class::request, turn::method::channel_bind, some_id);
  turn::add_requested_transport(b);
  turn::add_channel_number(b, 0x4001);
  const auto finished = b.finish();
  const bytes data(finished.begin(), finished.end());  // the message views these bytes: keep them
  const auto m = parse(data);
  BOOST_TEST(same(m.find(turn::attr::requested_transport)->value, from_hex("11000000")));
  const auto cn = m.find(turn::attr::channel_number);
  BOOST_TEST(same(cn->value, from_hex("40010000")));
  error_code ec;
  BOOST_TEST(turn::decode_channel_number(*cn, ec).value_or(0) == 0x4001);
  BOOST_TEST(!ec);
}

BOOST_AUTO_TEST_CASE(channel_numbers_outside_the_range_or_of_a_bad_size_are_rejected) {
  for (const auto& v : {from_hex("3fff0000"), from_hex("50000000"), from_hex("4000"), from_hex("40000000 00")}) {
    error_code ec;
    BOOST_TEST(!turn::decode_channel_number({turn::attr::channel_number, v}, ec));
    BOOST_TEST(ec == errc::bad_attribute_value);
  }
}

BOOST_AUTO_TEST_CASE(channel_data_round_trips_and_starts_with_bits_01) {
  const bytes payload = from_hex("d0010203 04");
  std::array<std::byte, 64> out;
  error_code ec;
  const auto cd = turn::encode_channel_data(0x4abc, payload, out, ec);
  BOOST_TEST_REQUIRE(!ec);
  BOOST_TEST(same(cd, from_hex("4abc0005 d0010203 04")));
  BOOST_TEST(turn::looks_like_channel_data(cd));
  BOOST_TEST(!stun::looks_like_stun(cd));
  const auto back = turn::decode_channel_data(cd, ec);
  BOOST_TEST_REQUIRE(back.has_value());
  BOOST_TEST(back->channel == 0x4abc);
  BOOST_TEST(same(back->data, payload));
}

BOOST_AUTO_TEST_CASE(channel_data_may_carry_up_to_three_padding_bytes) {
  error_code ec;
  BOOST_TEST(turn::decode_channel_data(from_hex("40000001 aa000000"), ec).has_value());
  BOOST_TEST(turn::decode_channel_data(from_hex("40000000"), ec)->data.empty());
  BOOST_TEST(!turn::decode_channel_data(from_hex("40000001 aa000000 00"), ec));
  BOOST_TEST(ec == errc::turn_bad_channel_data);
}

BOOST_AUTO_TEST_CASE(every_truncation_of_channel_data_is_rejected) {
  const bytes whole = from_hex("4fff0009 01020304 05060708 09");
  error_code ec;
  BOOST_TEST_REQUIRE(turn::decode_channel_data(whole, ec).has_value());
  for (std::size_t n = 0; n < whole.size(); ++n) {
    BOOST_TEST(!turn::decode_channel_data(std::span<const std::byte>(whole).first(n), ec), "length " << n);
    BOOST_TEST(ec == errc::turn_bad_channel_data);
  }
}

BOOST_AUTO_TEST_CASE(channel_data_on_a_channel_outside_0x4000_to_0x4fff_is_rejected) {
  error_code ec;
  for (const auto& d : {from_hex("3fff0000"), from_hex("50000000"), from_hex("7fff0000")}) {
    BOOST_TEST(!turn::decode_channel_data(d, ec));
    BOOST_TEST(ec == errc::turn_bad_channel_data);
  }
  std::array<std::byte, 8> out;
  BOOST_TEST(turn::encode_channel_data(0x3fff, {}, out, ec).empty());
  BOOST_TEST(ec == errc::turn_bad_channel_data);
}

BOOST_AUTO_TEST_CASE(channel_data_that_does_not_fit_the_buffer_is_not_written) {
  const bytes payload(5, std::byte{1});
  std::array<std::byte, 8> out;
  error_code ec;
  BOOST_TEST(turn::encode_channel_data(0x4000, payload, out, ec).empty());
  BOOST_TEST(ec == errc::message_too_large);
  BOOST_TEST(turn::encode_channel_data(0x4000, payload, std::span<std::byte>(out).first(3), ec).empty());
  BOOST_TEST(ec == errc::message_too_large);
}

BOOST_AUTO_TEST_CASE(channel_data_can_be_written_over_its_payload_in_place) {
  std::array<std::byte, 12> buf{};
  for (std::size_t i = 0; i < 8; ++i) buf[4 + i] = static_cast<std::byte>(i + 1);
  error_code ec;
  const auto cd = turn::encode_channel_data(0x4001, std::span<const std::byte>(buf).subspan(4, 8), buf, ec);
  BOOST_TEST(same(cd, from_hex("40010008 01020304 05060708")));
}

BOOST_AUTO_TEST_CASE(rest_credentials_are_the_expiry_the_user_and_an_hmac_of_them) {
  const std::chrono::system_clock::time_point now{std::chrono::seconds(1'699'999'000)};
  const auto c = turn_rest_credentials("north-secret", "alice", std::chrono::seconds(1000), now);
  BOOST_TEST(c.username == "1700000000:alice");
  // base64.b64encode(hmac.new(b"north-secret", b"1700000000:alice", hashlib.sha1).digest())
  BOOST_TEST(c.password == "g+jb180fcj+xlpA/2mP60OdIgU0=");
  BOOST_TEST(turn_rest_credentials("north-secret", "", std::chrono::seconds(1000), now).username == "1700000000");
}

BOOST_AUTO_TEST_CASE(a_turn_server_presents_rest_or_long_term_credentials_by_kind) {
  const std::chrono::system_clock::time_point now{std::chrono::seconds(1'699'999'000)};
  turn_server s;
  s.user = "alice";
  s.password = "north-secret";
  BOOST_TEST(s.credentials_at(now).username == "alice");
  BOOST_TEST(s.credentials_at(now).password == "north-secret");
  s.kind = turn_server::credentials_kind::rest;
  s.rest_ttl = std::chrono::seconds(1000);
  BOOST_TEST(s.credentials_at(now).username == "1700000000:alice");
  BOOST_TEST(s.credentials_at(now).password == "g+jb180fcj+xlpA/2mP60OdIgU0=");
}

BOOST_AUTO_TEST_SUITE_END()
