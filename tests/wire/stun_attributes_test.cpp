// Tests of the typed STUN attribute decoders (RFC 8489 §14) and of attribute lookup and
// iteration over a parsed message.
#include "stun_test_support.hpp"

#include <boost/test/unit_test.hpp>

#include <iterator>
#include <ranges>

using namespace punch;
using namespace punch::stun;
using namespace punch::stun::test;
namespace ip = boost::asio::ip;

static_assert(std::forward_iterator<message::iterator>);
static_assert(std::ranges::forward_range<message>);

BOOST_AUTO_TEST_SUITE(stun_attributes)

BOOST_AUTO_TEST_CASE(iteration_visits_every_attribute_in_wire_order) {
  // A message is a view: the bytes must outlive it.
  const bytes d = with_header(from_hex("0024 0004 00000001  8022 0001 41000000  0024 0000"));
  const message m = parse_ok(d);
  std::vector<std::uint16_t> types;
  std::vector<std::size_t> sizes;
  for (const attribute a : m) {
    types.push_back(a.type);
    sizes.push_back(a.value.size());
  }
  BOOST_TEST(types == (std::vector<std::uint16_t>{attr::priority, attr::software, attr::priority}),
             boost::test_tools::per_element());
  BOOST_TEST(sizes == (std::vector<std::size_t>{4, 1, 0}), boost::test_tools::per_element());
  BOOST_TEST(std::ranges::distance(m) == 3);
  // find() returns the first of duplicates.
  error_code ec;
  BOOST_TEST(*decode_u32(*m.find(attr::priority), ec) == 1u);
  BOOST_TEST(!m.find(attr::username));
}

BOOST_AUTO_TEST_CASE(default_constructed_message_is_an_empty_range) {
  const message m;
  BOOST_TEST((m.begin() == m.end()));
  BOOST_TEST(!m.find(attr::software));
}

BOOST_AUTO_TEST_CASE(find_ignores_attributes_after_message_integrity) {
  // PRIORITY after MESSAGE-INTEGRITY is not covered by it (RFC 8489 §14.5).
  const bytes d = with_header(from_hex(
      "0008 0014 0000000000000000000000000000000000000000  0024 0004 00000007"));
  const message m = parse_ok(d);
  BOOST_TEST(!m.find(attr::priority));
  BOOST_TEST(m.find(attr::message_integrity).has_value());
  BOOST_TEST(std::ranges::distance(m) == 2);  // iteration still shows the wire
}

BOOST_AUTO_TEST_CASE(address_decoders_reject_unknown_families_and_wrong_sizes) {
  error_code ec;
  const auto bad = [&](std::string_view hex) {
    const bytes v = from_hex(hex);
    const attribute a{attr::xor_mapped_address, v};
    const bool xor_rejects = !decode_xor_address(a, some_id, ec) && ec == errc::bad_attribute_value;
    const bool plain_rejects = !decode_address(a, ec) && ec == errc::bad_attribute_value;
    return xor_rejects && plain_rejects;
  };
  BOOST_TEST(bad(""));
  BOOST_TEST(bad("000112"));
  BOOST_TEST(bad("00031234 01020304"));                            // family 3
  BOOST_TEST(bad("00011234 010203"));                              // IPv4, 3 bytes
  BOOST_TEST(bad("00011234 0102030405"));                          // IPv4, 5 bytes
  BOOST_TEST(bad("00021234 01020304"));                            // IPv6, 4 bytes
  BOOST_TEST(bad("00011234 00000000000000000000000000000000"));    // IPv4, 16 bytes
  // The reserved first byte is ignored on receipt (RFC 8489 §14.1).
  const bytes v = from_hex("ff011234 c0000201");
  const auto ep = decode_address({attr::mapped_address, v}, ec);
  BOOST_TEST((ep == endpoint(ip::make_address("192.0.2.1"), 0x1234)));
}

BOOST_AUTO_TEST_CASE(error_code_decoder_checks_class_number_and_reason_size) {
  error_code ec;
  const auto code_of = [&](const bytes& v) {
    const auto e = decode_error_code({attr::error_code, v}, ec);
    return e ? e->code : -1;
  };
  BOOST_TEST(code_of(from_hex("00000464")) == -1);  // number 100
  BOOST_TEST(ec == errc::bad_attribute_value);
  BOOST_TEST(code_of(from_hex("00000263")) == -1);  // 299
  BOOST_TEST(code_of(from_hex("00000700")) == -1);  // 700
  BOOST_TEST(code_of(from_hex("000003")) == -1);    // too short
  BOOST_TEST(code_of(from_hex("00000300")) == 300);
  BOOST_TEST(!ec);
  BOOST_TEST(code_of(from_hex("fffffe63")) == 699);  // the 21 reserved bits are ignored
  bytes long_reason = from_hex("00000401");
  long_reason.resize(4 + 763, std::byte{'x'});
  BOOST_TEST(code_of(long_reason) == 401);
  long_reason.push_back(std::byte{'x'});
  BOOST_TEST(code_of(long_reason) == -1);
}

BOOST_AUTO_TEST_CASE(integer_decoders_require_the_exact_size) {
  error_code ec;
  const bytes five = from_hex("0102030405");
  BOOST_TEST(!decode_u32({attr::priority, std::span(five).first(3)}, ec));
  BOOST_TEST(ec == errc::bad_attribute_value);
  BOOST_TEST(!decode_u32({attr::priority, five}, ec));
  BOOST_TEST(!decode_u64({attr::ice_controlled, five}, ec));
  BOOST_TEST(*decode_u32({attr::priority, std::span(five).first(4)}, ec) == 0x01020304u);
}

BOOST_AUTO_TEST_CASE(text_decoder_enforces_rfc_limits_on_known_text_attributes) {
  error_code ec;
  const bytes big(764, std::byte{'a'});
  BOOST_TEST(!decode_string({attr::software, big}, ec));
  BOOST_TEST(ec == errc::bad_attribute_value);
  BOOST_TEST(decode_string({attr::software, std::span(big).first(763)}, ec)->size() == 763u);
  BOOST_TEST(decode_string({0x4A01, big}, ec)->size() == 764u);  // not a text type of ours
  BOOST_TEST(decode_string({attr::software, big}).size() == 764u);
}

BOOST_AUTO_TEST_SUITE_END()
