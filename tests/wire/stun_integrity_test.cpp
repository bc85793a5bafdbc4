// MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6) and covering attributes (punch's SIGNATURE), the
// introduction keys and the sealed frame header.
#include "stun_test_support.hpp"

#include "punch/wire/protocol.hpp"

#include <boost/test/unit_test.hpp>

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

using namespace punch;
using namespace punch::stun;
using namespace punch::stun::test;

namespace {
std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }
const std::string_view key = "integrity key";
std::string hex(std::span<const std::byte> b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  for (std::byte c : b) {
    s += digits[std::to_integer<int>(c) >> 4];
    s += digits[std::to_integer<int>(c) & 0xF];
  }
  return s;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(stun_integrity)

BOOST_AUTO_TEST_CASE(message_integrity_sha256_matches_an_independent_hmac) {
  // Expected value: Python's hmac.new(b"integrity key", covered, hashlib.sha256) over the same
  // header (length counting the attribute) and SOFTWARE "punch".
  std::array<std::byte, max_message_size> buf;
  builder b{buf, message_class::request, method::binding, some_id};
  const auto out = b.add_software("punch").add_message_integrity_sha256(bytes_of(key)).finish();
  BOOST_REQUIRE(!b.error());
  const message m = parse_ok(out);
  auto mi = m.find(attr::message_integrity_sha256);
  BOOST_REQUIRE(mi);
  BOOST_TEST(hex(mi->value) == "f08a5c7ea2597dd91aca73c9aae663c948b2901982117c474cbc7e708e3d5060");
  BOOST_TEST(check_message_integrity_sha256(m, bytes_of(key)));
}

BOOST_AUTO_TEST_CASE(a_wrong_key_or_a_changed_byte_fails_the_check) {
  std::array<std::byte, max_message_size> buf;
  builder b{buf, message_class::request, method::binding, some_id};
  const auto out = b.add_software("punch").add_message_integrity_sha256(bytes_of(key)).finish_with_fingerprint();
  BOOST_TEST(check_message_integrity_sha256(parse_ok(out), bytes_of(key)));
  BOOST_TEST(!check_message_integrity_sha256(parse_ok(out), bytes_of("another key")));

  std::vector<std::byte> changed(out.begin(), out.end());
  changed[header_size + 4] ^= std::byte{0x20};  // "punch" → "Punch"
  // Mend FINGERPRINT so that only the integrity check can notice.
  const std::uint32_t fp = fingerprint_of(std::span<const std::byte>(changed).first(changed.size() - 8));
  for (int i = 0; i < 4; ++i) changed[changed.size() - 4 + i] = std::byte(fp >> (24 - 8 * i));
  BOOST_TEST(!check_message_integrity_sha256(parse_ok(changed), bytes_of(key)));
}

BOOST_AUTO_TEST_CASE(a_message_without_integrity_or_with_a_short_one_fails) {
  std::array<std::byte, max_message_size> buf;
  builder b{buf, message_class::request, method::binding, some_id};
  BOOST_TEST(!check_message_integrity_sha256(parse_ok(b.add_software("x").finish()), bytes_of(key)));
  std::array<std::byte, 16> short_mac{};
  builder c{buf, message_class::request, method::binding, some_id};
  BOOST_TEST(!check_message_integrity_sha256(parse_ok(c.add(attr::message_integrity_sha256, short_mac).finish()),
                                             bytes_of(key)));
}

BOOST_AUTO_TEST_CASE(covered_by_gives_the_bytes_before_the_attribute_with_the_length_ending_at_it) {
  std::array<std::byte, max_message_size> buf;
  builder b{buf, message_class::request, method::binding, some_id};
  std::vector<std::byte> seen;
  const auto out = b.add_software("abc")
                       .add_covering(wire::attr::signature, 64,
                                     [&](std::span<const std::byte> covered, std::span<std::byte> value) {
                                       seen.assign(covered.begin(), covered.end());
                                       std::fill(value.begin(), value.end(), std::byte{0x55});
                                     })
                       .finish_with_fingerprint();
  const message m = parse_ok(out);
  std::array<std::byte, max_message_size> scratch;
  auto covered = m.covered_by(wire::attr::signature, scratch);
  BOOST_REQUIRE(covered);
  // The builder handed the same bytes to compute as the parser gives to verify.
  BOOST_TEST((std::vector<std::byte>(covered->begin(), covered->end()) == seen));
  BOOST_TEST(covered->size() == header_size + 4 + 4);
  // Length: SOFTWARE (8) + SIGNATURE (68), not FINGERPRINT.
  BOOST_TEST(std::to_integer<int>((*covered)[3]) == 8 + 68);
  BOOST_TEST(!m.covered_by(wire::attr::public_key, scratch));
  BOOST_TEST(!m.covered_by(wire::attr::signature, std::span(scratch).first(10)));
}

BOOST_AUTO_TEST_CASE(introduction_keys_are_a_function_of_the_token_and_differ_between_tokens) {
  wire::token a{}, b{};
  b[15] = std::byte{1};
  const auto ka = wire::derive_keys(a), ka2 = wire::derive_keys(a), kb = wire::derive_keys(b);
  BOOST_TEST((ka.check_key == ka2.check_key && ka.punch_id == ka2.punch_id && ka.tag == ka2.tag));
  BOOST_TEST((ka.check_key != kb.check_key));
  BOOST_TEST((ka.punch_id != kb.punch_id));
  BOOST_TEST(wire::tag_of(a) == ka.tag);
  // The token itself never shows: no 8-byte window of the check key or id equals its start.
  BOOST_TEST(std::memcmp(ka.punch_id.data(), a.data(), 8) != 0);
}

BOOST_AUTO_TEST_CASE(frame_headers_round_trip_kind_tag_and_counter) {
  std::array<std::byte, wire::frame_overhead> f{};
  wire::write_frame_header(std::span(f).first<wire::frame_header_size>(), wire::frame_kind::close, 0xDEADBEEF,
                           0x0102030405060708ULL);
  BOOST_TEST(wire::looks_like_frame(f));
  BOOST_TEST((wire::frame_kind_of(f) == wire::frame_kind::close));
  BOOST_TEST(wire::frame_tag_of(f) == 0xDEADBEEFu);
  BOOST_TEST(wire::frame_counter_of(f) == 0x0102030405060708ULL);
  // Shorter than header + tag: not a frame.
  BOOST_TEST(!wire::looks_like_frame(std::span(f).first(wire::frame_overhead - 1)));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(handshake)

BOOST_AUTO_TEST_CASE(the_transcript_binds_context_token_role_and_ephemeral_key_in_that_order) {
  wire::token t{};
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = std::byte(0x40 + i);
  std::array<std::byte, 32> eph{};
  eph.fill(std::byte{0xE5});
  const auto a = wire::handshake_transcript(t, true, eph);
  const auto b = wire::handshake_transcript(t, false, eph);
  BOOST_TEST(a.size() == 18u + 16u + 1u + 32u);
  BOOST_TEST(std::string(reinterpret_cast<const char*>(a.data()), 18) == "punch handshake v1");
  BOOST_TEST(std::memcmp(a.data() + 18, t.data(), 16) == 0);
  BOOST_TEST(std::to_integer<int>(a[34]) == 1);
  BOOST_TEST(std::to_integer<int>(b[34]) == 0);
  BOOST_TEST(std::memcmp(a.data() + 35, eph.data(), 32) == 0);
  // Everything else equal, the roles differ: a peer's signature is never valid as the other's.
  BOOST_TEST((a != b));
}

BOOST_AUTO_TEST_SUITE_END()
