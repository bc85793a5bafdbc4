// Unit tests of the STUN codec: builder/parse round trips, the builder's errors, and each
// rejection reason of the parser. Typed decoders and iteration: stun_attributes_test.cpp;
// RFC 5769 vectors: stun_rfc5769_test.cpp; random inputs: stun_random_test.cpp.
#include "stun_test_support.hpp"

#include <boost/test/unit_test.hpp>

using namespace punch;
using namespace punch::stun;
using namespace punch::stun::test;
namespace ip = boost::asio::ip;

BOOST_AUTO_TEST_SUITE(stun_round_trips)

BOOST_AUTO_TEST_CASE(binding_request_round_trips_with_software_and_fingerprint) {
  std::array<std::byte, max_message_size> buf;
  builder b{buf, message_class::request, method::binding, some_id};
  const auto out = b.add_software("punch test").finish_with_fingerprint();
  BOOST_REQUIRE(!b.error());
  BOOST_TEST(out.size() == header_size + 4 + 12 + fingerprint_size);
  BOOST_TEST(looks_like_stun(out));

  const message m = parse_ok(out, {.padding = padding_check::require_zero});
  BOOST_TEST(m.method() == method::binding);
  BOOST_TEST(m.cls() == message_class::request);
  BOOST_TEST((m.id() == some_id));
  BOOST_TEST(m.has_fingerprint());
  BOOST_TEST(decode_string(*m.find(attr::software)) == "punch test");
}

BOOST_AUTO_TEST_CASE(success_response_round_trips_an_ipv4_xor_mapped_address) {
  const endpoint ep{ip::make_address("198.51.100.7"), 61000};
  std::array<std::byte, max_message_size> buf;
  builder b{buf, message_class::success_response, method::binding, some_id};
  const auto out = b.add_xor_address(attr::xor_mapped_address, ep).finish_with_fingerprint();
  const message m = parse_ok(out);
  BOOST_TEST(m.cls() == message_class::success_response);
  error_code ec;
  BOOST_TEST((decode_xor_address(*m.find(attr::xor_mapped_address), m.id(), ec) == ep));
  BOOST_TEST(!ec);
  // The address really is obfuscated on the wire (RFC 8489 §14.2): 198 ^ 0x21 = 0xE7.
  BOOST_TEST(std::to_integer<int>(out[header_size + 8]) == (198 ^ 0x21));
}

BOOST_AUTO_TEST_CASE(success_response_round_trips_an_ipv6_xor_mapped_address) {
  const endpoint ep{ip::make_address("2001:db8::1:2:3"), 443};
  std::array<std::byte, max_message_size> buf;
  builder b{buf, message_class::success_response, method::binding, some_id};
  const auto out = b.add_xor_address(attr::xor_mapped_address, ep).finish();
  const message m = parse_ok(out);
  BOOST_TEST(!m.has_fingerprint());
  const attribute a = *m.find(attr::xor_mapped_address);
  BOOST_TEST(a.value.size() == 20u);
  error_code ec;
  BOOST_TEST((decode_xor_address(a, m.id(), ec) == ep));
  // Decoding with another transaction id gives another address: the id is part of the XOR.
  transaction_id other = some_id;
  other[11] ^= std::byte{1};
  BOOST_TEST((decode_xor_address(a, other, ec) != ep));
}

BOOST_AUTO_TEST_CASE(error_response_round_trips_code_and_reason) {
  std::array<std::byte, max_message_size> buf;
  builder b{buf, message_class::error_response, method::binding, some_id};
  const auto out = b.add_error_code(420, "Unknown Attribute").finish_with_fingerprint();
  const message m = parse_ok(out);
  BOOST_TEST(m.cls() == message_class::error_response);
  error_code ec;
  const auto e = decode_error_code(*m.find(attr::error_code), ec);
  BOOST_REQUIRE(e);
  BOOST_TEST(e->code == 420);
  BOOST_TEST(e->reason == "Unknown Attribute");
}

BOOST_AUTO_TEST_CASE(plain_addresses_round_trip_without_xor) {
  const endpoint v4{ip::make_address("192.0.2.55"), 3478};
  const endpoint v6{ip::make_address("2001:db8::55"), 3479};
  std::array<std::byte, max_message_size> buf;
  builder b{buf, message_class::success_response, method::binding, some_id};
  const auto out = b.add_address(attr::mapped_address, v4).add_address(attr::other_address, v6).finish();
  const message m = parse_ok(out);
  error_code ec;
  BOOST_TEST((decode_address(*m.find(attr::mapped_address), ec) == v4));
  BOOST_TEST((decode_address(*m.find(attr::other_address), ec) == v6));
  // MAPPED-ADDRESS carries the address bytes as they are (RFC 8489 §14.1).
  BOOST_TEST(std::to_integer<int>(out[header_size + 8]) == 192);
}

BOOST_AUTO_TEST_CASE(integers_round_trip_in_network_order) {
  std::array<std::byte, max_message_size> buf;
  builder b{buf, message_class::request, method::binding, some_id};
  const auto out = b.add_u32(attr::priority, 0x6E0001FF)
                       .add_u64(attr::ice_controlling, 0x932FF9B151263B36)
                       .finish();
  const message m = parse_ok(out);
  error_code ec;
  BOOST_TEST(*decode_u32(*m.find(attr::priority), ec) == 0x6E0001FFu);
  BOOST_TEST(*decode_u64(*m.find(attr::ice_controlling), ec) == 0x932FF9B151263B36u);
  BOOST_TEST(std::to_integer<int>(out[header_size + 4]) == 0x6E);
}

BOOST_AUTO_TEST_CASE(every_class_and_method_bit_survives_a_round_trip) {
  std::array<std::byte, header_size> buf;
  for (int c = 0; c < 4; ++c) {
    for (std::uint16_t meth : {0x000, 0x001, 0x00F, 0x010, 0x070, 0x080, 0xF80, 0x0D3, 0xFFF}) {
      builder b{buf, static_cast<message_class>(c), meth, some_id};
      const message m = parse_ok(b.finish());
      BOOST_TEST(m.method() == meth);
      BOOST_TEST(static_cast<int>(m.cls()) == c);
    }
  }
  // RFC 8489 §5: a Binding success response is type 0x0101.
  builder b{buf, message_class::success_response, method::binding, some_id};
  const auto out = b.finish();
  BOOST_TEST(std::to_integer<int>(out[0]) == 0x01);
  BOOST_TEST(std::to_integer<int>(out[1]) == 0x01);
}

BOOST_AUTO_TEST_CASE(ipv4_mapped_ipv6_endpoint_is_written_as_ipv4) {
  const endpoint mapped{ip::make_address("::ffff:203.0.113.9"), 5000};
  std::array<std::byte, max_message_size> buf;
  builder b{buf, message_class::success_response, method::binding, some_id};
  const message m = parse_ok(b.add_xor_address(attr::xor_mapped_address, mapped).finish());
  error_code ec;
  const auto got = decode_xor_address(*m.find(attr::xor_mapped_address), m.id(), ec);
  BOOST_TEST((got == endpoint(ip::make_address("203.0.113.9"), 5000)));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(stun_builder)

BOOST_AUTO_TEST_CASE(builder_pads_values_with_zero_bytes) {
  std::array<std::byte, max_message_size> buf;
  buf.fill(std::byte{0xEE});
  builder b{buf, message_class::request, method::binding, some_id};
  const auto out = b.add_string(attr::username, "abcde").finish();
  BOOST_TEST(out.size() == header_size + 4 + 8);
  for (std::size_t i = header_size + 4 + 5; i < out.size(); ++i) BOOST_TEST(std::to_integer<int>(out[i]) == 0);
  BOOST_TEST(parse_error(out, {.padding = padding_check::require_zero}) == errc{});
}

BOOST_AUTO_TEST_CASE(full_builder_reports_message_too_large_and_stays_failed) {
  std::array<std::byte, header_size + 8> buf;
  builder b{buf, message_class::request, method::binding, some_id};
  b.add_u32(attr::priority, 1);
  BOOST_TEST(!b.error());
  b.add_u32(attr::priority, 2);  // 8 more bytes do not fit
  BOOST_TEST(b.error() == errc::message_too_large);
  b.add_error_code(42, "");  // a later, different mistake does not replace the first
  BOOST_TEST(b.error() == errc::message_too_large);
  BOOST_TEST(b.finish().empty());
  BOOST_TEST(b.finish_with_fingerprint().empty());
}

BOOST_AUTO_TEST_CASE(buffer_smaller_than_a_header_is_too_small) {
  std::array<std::byte, header_size - 1> buf;
  builder b{buf, message_class::request, method::binding, some_id};
  BOOST_TEST(b.error() == errc::message_too_large);
  BOOST_TEST(b.finish().empty());
}

BOOST_AUTO_TEST_CASE(fingerprint_that_does_not_fit_fails_the_build) {
  std::array<std::byte, header_size + 4> buf;
  builder b{buf, message_class::request, method::binding, some_id};
  BOOST_TEST(b.finish_with_fingerprint().empty());
  BOOST_TEST(b.error() == errc::message_too_large);
}

BOOST_AUTO_TEST_CASE(builder_rejects_values_it_cannot_encode) {
  std::array<std::byte, 4096> buf;
  const auto fails = [&](auto&& step) {
    builder b{buf, message_class::error_response, method::binding, some_id};
    step(b);
    return b.error() == errc::bad_attribute_value && b.finish().empty();
  };
  BOOST_TEST(fails([](builder& b) { b.add_error_code(299, "too low"); }));
  BOOST_TEST(fails([](builder& b) { b.add_error_code(700, "too high"); }));
  BOOST_TEST(fails([](builder& b) { b.add_error_code(400, std::string(510, 'r')); }));
  BOOST_TEST(fails([](builder& b) { b.add_software(std::string(510, 's')); }));
  BOOST_TEST(fails([](builder& b) { b.add_string(attr::username, std::string(509, 'u')); }));
  builder wide{buf, message_class::request, 0x1000, some_id};
  BOOST_TEST(wide.error() == errc::bad_attribute_value);
  // The limits themselves are fine.
  builder ok{buf, message_class::error_response, method::binding, some_id};
  ok.add_error_code(300, "").add_error_code(699, std::string(509, 'r')).add_software(std::string(509, 's'));
  BOOST_TEST(!ok.error());
}

BOOST_AUTO_TEST_CASE(nothing_can_follow_the_fingerprint) {
  std::array<std::byte, max_message_size> buf;
  builder b{buf, message_class::request, method::binding, some_id};
  BOOST_TEST(!b.finish_with_fingerprint().empty());
  b.add_u32(attr::priority, 1);
  BOOST_TEST(b.error() == errc::bad_fingerprint);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(stun_parse_rejects)

BOOST_AUTO_TEST_CASE(truncated_header_is_rejected_with_reason) {
  const bytes full = with_header({});
  for (std::size_t n = 0; n < header_size; ++n) {
    BOOST_TEST(parse_error(std::span(full).first(n)) == errc::truncated);
  }
  BOOST_TEST(parse_error(full) == errc{});
}

BOOST_AUTO_TEST_CASE(datagram_shorter_than_its_length_field_is_truncated) {
  bytes d = with_header(from_hex("0024 0004 00000001"));
  d.pop_back();
  // 27 bytes: the length (8) is still a multiple of 4, the datagram lacks a byte.
  BOOST_TEST(parse_error(d) == errc::truncated);
  d.resize(header_size + 4);
  BOOST_TEST(parse_error(d) == errc::truncated);
}

BOOST_AUTO_TEST_CASE(datagram_longer_than_its_length_field_is_rejected) {
  bytes d = with_header(from_hex("0024 0004 00000001"));
  d.insert(d.end(), 4, std::byte{0});
  BOOST_TEST(parse_error(d) == errc::bad_message_length);
}

BOOST_AUTO_TEST_CASE(length_field_not_a_multiple_of_four_is_rejected) {
  bytes d = with_header(from_hex("0024 0004 00000001"));
  d[3] = std::byte{7};
  d.pop_back();
  BOOST_TEST(parse_error(d) == errc::bad_message_length);
}

BOOST_AUTO_TEST_CASE(wrong_magic_cookie_is_rejected) {
  bytes d = with_header({});
  d[7] = std::byte{0x43};
  BOOST_TEST(parse_error(d) == errc::bad_magic_cookie);
  BOOST_TEST(!looks_like_stun(d));
}

BOOST_AUTO_TEST_CASE(first_two_bits_not_zero_are_not_stun) {
  for (int top : {0x40, 0x80, 0xC0}) {
    bytes d = with_header({});
    d[0] |= static_cast<std::byte>(top);
    BOOST_TEST(parse_error(d) == errc::not_stun);
    BOOST_TEST(!looks_like_stun(d));
  }
}

BOOST_AUTO_TEST_CASE(attribute_length_past_the_end_is_rejected) {
  BOOST_TEST(parse_error(with_header(from_hex("0024 0008 00000001"))) == errc::bad_attribute_length);
  BOOST_TEST(parse_error(with_header(from_hex("0024 ffff 00000001"))) == errc::bad_attribute_length);
  // The value fits but its padding would not: 5 bytes need 8.
  BOOST_TEST(parse_error(with_header(from_hex("8022 0005 41424344"))) == errc::bad_attribute_length);
  BOOST_TEST(parse_error(with_header(from_hex("8022 0004 41424344"))) == errc{});
}

BOOST_AUTO_TEST_CASE(non_zero_padding_is_rejected_only_when_zero_padding_is_required) {
  const bytes d = with_header(from_hex("0006 0005 6162636465 000100"));
  BOOST_TEST(parse_error(d, {.padding = padding_check::require_zero}) == errc::bad_padding);
  // RFC 8489 §14: receivers ignore the padding bytes, which is the default.
  BOOST_TEST(parse_error(d) == errc{});
  BOOST_TEST(decode_string(*parse_ok(d).find(attr::username)) == "abcde");
}

BOOST_AUTO_TEST_CASE(fingerprint_that_is_not_last_is_rejected) {
  std::array<std::byte, max_message_size> buf;
  builder b{buf, message_class::request, method::binding, some_id};
  const auto good = b.finish_with_fingerprint();
  bytes body(good.begin() + header_size, good.end());
  const bytes tail = from_hex("0024 0004 00000001");
  body.insert(body.end(), tail.begin(), tail.end());
  BOOST_TEST(parse_error(with_header(body)) == errc::bad_fingerprint);
}

BOOST_AUTO_TEST_CASE(fingerprint_of_the_wrong_size_or_value_is_rejected) {
  BOOST_TEST(parse_error(with_header(from_hex("8028 0008 00000000 00000000"))) == errc::bad_fingerprint);
  BOOST_TEST(parse_error(with_header(from_hex("8028 0004 00000000"))) == errc::bad_fingerprint);
}

BOOST_AUTO_TEST_CASE(errors_are_in_the_punch_category_with_readable_messages) {
  error_code ec;
  BOOST_TEST(!message::parse({}, ec));
  BOOST_TEST(ec == errc::truncated);
  BOOST_TEST(ec.category().name() == std::string("punch"));
  BOOST_TEST(ec.message() == "message truncated");
  // A later success clears the error.
  const bytes d = with_header({});
  BOOST_TEST(message::parse(d, ec).has_value());
  BOOST_TEST(!ec);
}

BOOST_AUTO_TEST_SUITE_END()
