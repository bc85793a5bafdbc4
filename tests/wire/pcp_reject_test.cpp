// Unit tests of what the PCP response decoder refuses (RFC 6887 §7.3, §8.3, §9): truncations,
// other versions (NAT-PMP's version 0 among them), requests, other opcodes, bad lengths and
// options; and what it must still accept (unknown options of either range, the largest message).
#include "pcp_test_support.hpp"

#include <boost/test/unit_test.hpp>

#include <array>

using namespace punch;
using namespace punch::pcp;
using namespace punch::pcp::test;
namespace ip = boost::asio::ip;

BOOST_AUTO_TEST_SUITE(pcp_rejections)

BOOST_AUTO_TEST_CASE(every_truncation_of_a_map_success_is_rejected) {
  const bytes whole = map_success();
  for (std::size_t n = 0; n < whole.size(); ++n) {
    const auto ec = decode_error(std::span{whole}.first(n));
    BOOST_TEST(ec, n);
    BOOST_TEST((n % 4 == 0 || n < 4 ? ec == errc::truncated : ec == errc::pcp_bad_length), n);
  }
}

BOOST_AUTO_TEST_CASE(a_truncation_inside_an_option_is_rejected) {
  const bytes whole = cat({map_success(), option_bytes(option::third_party, bytes(16, std::byte{1}))});
  BOOST_REQUIRE(decode_ok(whole)->third_party.has_value());
  // Cut at 4-byte steps inside the option (other cuts fail the length rule); cutting at the
  // option's start leaves a valid message.
  for (std::size_t n = map_success().size() + 4; n < whole.size(); n += 4)
    BOOST_TEST((decode_error(std::span{whole}.first(n)) == errc::pcp_bad_option), n);
}

BOOST_AUTO_TEST_CASE(a_nat_pmp_answer_is_reported_as_unsupported_version) {
  // RFC 6886 §3.5: version 0, opcode 128 + the request's (MAP = 1), result 1 (Unsupported
  // Version) in 16 bits, seconds since the start of epoch.
  const bytes nat_pmp = of({0x00, 0x81, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00});
  BOOST_TEST((decode_error(nat_pmp) == errc::pcp_unsupported_version));
}

BOOST_AUTO_TEST_CASE(any_version_but_2_is_unsupported) {
  for (const int v : {0, 1, 3, 255}) {
    bytes b = map_success();
    b[0] = static_cast<std::byte>(v);
    BOOST_TEST((decode_error(b) == errc::pcp_unsupported_version), v);
  }
}

BOOST_AUTO_TEST_CASE(a_message_without_the_r_bit_is_a_request_and_rejected) {
  bytes b = map_success();
  b[1] = std::byte{0x01};
  BOOST_TEST((decode_error(b) == errc::pcp_not_a_response));
}

BOOST_AUTO_TEST_CASE(opcodes_other_than_announce_and_map_are_rejected) {
  for (const int op : {2, 3, 5, 0x7F}) {
    bytes b = map_success();
    b[1] = static_cast<std::byte>(0x80 | op);
    BOOST_TEST((decode_error(b) == errc::pcp_unknown_opcode), op);
  }
}

BOOST_AUTO_TEST_CASE(a_length_not_a_multiple_of_4_is_rejected) {
  for (const std::size_t extra : {1, 2, 3}) {
    bytes b = map_success();
    b.resize(b.size() + extra, std::byte{0});
    BOOST_TEST((decode_error(b) == errc::pcp_bad_length), extra);
  }
}

BOOST_AUTO_TEST_CASE(a_message_over_1100_bytes_is_rejected_and_one_of_1100_accepted) {
  // Fill with one optional option (code 200) to exactly 1100 bytes, then one word more.
  const std::size_t data = max_message_size - map_success().size() - 4;
  bytes b = cat({map_success(), option_bytes(200, bytes(data, std::byte{7}))});
  BOOST_REQUIRE_EQUAL(b.size(), max_message_size);
  BOOST_TEST(decode_ok(b)->map->external_port == 50000);
  b.resize(b.size() + 4, std::byte{0});
  BOOST_TEST((decode_error(b) == errc::pcp_bad_length));
}

BOOST_AUTO_TEST_CASE(an_unknown_optional_option_is_skipped_by_its_length) {
  const bytes b = cat({map_success(), option_bytes(128, of({1, 2, 3, 4, 5})),
                       option_bytes(option::prefer_failure, {})});
  const auto r = decode_ok(b);
  BOOST_TEST(r->prefer_failure);  // found after the skipped one: the skip used the padded length
}

BOOST_AUTO_TEST_CASE(an_unknown_mandatory_option_is_skipped_too_as_rfc_6887_7_3_asks_of_clients) {
  // §7.3: "PCP clients MUST ignore Options that they do not understand that appear in
  // responses, including Options in the mandatory-to-process range."
  for (const int code : {0, 4, 127}) {
    const bytes b = cat({map_success(), option_bytes(code, of({1, 2, 3, 4, 5, 6})), option_bytes(option::prefer_failure, {})});
    const auto r = decode_ok(b);
    BOOST_TEST(r->prefer_failure, code);
    BOOST_TEST(r->map->external_port == 50000, code);
  }
}

BOOST_AUTO_TEST_CASE(known_options_with_the_wrong_length_are_rejected) {
  for (const auto& opt : {option_bytes(option::prefer_failure, of({0, 0, 0, 0})),
                          option_bytes(option::third_party, bytes(4, std::byte{0})),
                          option_bytes(option::filter, bytes(16, std::byte{0}))})
    BOOST_TEST((decode_error(cat({map_success(), opt})) == errc::pcp_bad_option));
}

BOOST_AUTO_TEST_CASE(an_option_longer_than_the_message_is_rejected) {
  bytes opt = option_bytes(128, of({1, 2, 3, 4}));
  opt[3] = std::byte{8};  // says 8 bytes, 4 follow
  BOOST_TEST((decode_error(cat({map_success(), opt})) == errc::pcp_bad_option));
}

BOOST_AUTO_TEST_CASE(a_filter_option_is_accepted_and_a_third_party_one_decoded) {
  const bytes b = cat({map_success(), option_bytes(option::filter, bytes(20, std::byte{0})),
                       option_bytes(option::third_party, cat({bytes(10, std::byte{0}), of({0xFF, 0xFF, 192, 0, 2, 50})}))});
  const auto r = decode_ok(b);
  BOOST_REQUIRE(r->third_party.has_value());
  BOOST_TEST(*r->third_party == ip::make_address("192.0.2.50"));
}

BOOST_AUTO_TEST_SUITE_END()
