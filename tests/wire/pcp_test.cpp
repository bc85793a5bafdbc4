// Unit tests of the PCP codec (RFC 6887): requests written byte for byte as the RFC's figures
// draw them, responses from those figures decoded field by field, round trips through a
// gateway's answer, and the result codes' names. Rejections: pcp_reject_test.cpp.
#include "pcp_test_support.hpp"

#include <boost/test/unit_test.hpp>

#include <array>
#include <string>

using namespace punch;
using namespace punch::pcp;
using namespace punch::pcp::test;
namespace ip = boost::asio::ip;
using namespace std::chrono_literals;

namespace {

map_request some_request() {
  map_request r;
  r.lifetime = 7200s;
  r.client = ip::make_address("192.0.2.33");
  r.nonce = some_nonce;
  r.internal_port = 40000;
  return r;
}

bytes encode_ok(const map_request& r) {
  std::array<std::byte, max_message_size> buf;
  error_code ec;
  const auto out = encode(r, buf, ec);
  BOOST_REQUIRE(!ec);
  BOOST_REQUIRE_EQUAL(out.size(), encoded_size(r));
  return {out.begin(), out.end()};
}

const bytes mapped_zero = cat({bytes(10, std::byte{0}), of({0xFF, 0xFF, 0, 0, 0, 0})});

}  // namespace

BOOST_AUTO_TEST_SUITE(pcp_layouts)

BOOST_AUTO_TEST_CASE(map_request_is_written_as_rfc_6887_figures_draw_it) {
  const bytes expected = cat({
      of({0x02, 0x01, 0x00, 0x00}),                                 // version 2, R=0 | MAP, reserved
      of({0x00, 0x00, 0x1C, 0x20}),                                 // requested lifetime 7200
      bytes(10, std::byte{0}), of({0xFF, 0xFF, 192, 0, 2, 33}),     // client ::ffff:192.0.2.33 (§5)
      of({0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xAB}),  // nonce
      of({0x11, 0x00, 0x00, 0x00}),                                 // UDP, reserved
      of({0x9C, 0x40, 0x00, 0x00}),                                 // internal 40000, suggested 0
      mapped_zero,                                                  // no suggested address: ::ffff:0.0.0.0
  });
  BOOST_TEST(encode_ok(some_request()) == expected);
}

BOOST_AUTO_TEST_CASE(ipv6_client_and_suggestion_are_written_as_they_are) {
  auto r = some_request();
  r.client = ip::make_address("2001:db8::1");
  r.suggested_external_address = ip::make_address("2001:db8::2");
  r.suggested_external_port = 0x1234;
  const bytes out = encode_ok(r);
  BOOST_TEST((bytes(out.begin() + 8, out.begin() + 24) ==
              cat({of({0x20, 0x01, 0x0D, 0xB8}), bytes(11, std::byte{0}), of({1})})));
  BOOST_TEST((bytes(out.begin() + 42, out.begin() + 44) == of({0x12, 0x34})));
  BOOST_TEST((bytes(out.begin() + 44, out.end()) == cat({of({0x20, 0x01, 0x0D, 0xB8}), bytes(11, std::byte{0}), of({2})})));
}

BOOST_AUTO_TEST_CASE(third_party_and_prefer_failure_options_follow_the_body) {
  auto r = some_request();
  r.prefer_failure = true;
  r.third_party = ip::make_address("192.0.2.50");
  const bytes out = encode_ok(r);
  BOOST_REQUIRE_EQUAL(out.size(), header_size + map_body_size + 20 + 4);
  const bytes options(out.begin() + header_size + map_body_size, out.end());
  BOOST_TEST((options == cat({of({0x01, 0x00, 0x00, 0x10}), bytes(10, std::byte{0}), of({0xFF, 0xFF, 192, 0, 2, 50}),
                              of({0x02, 0x00, 0x00, 0x00})})));
}

BOOST_AUTO_TEST_CASE(announce_request_is_the_header_alone_with_lifetime_zero) {
  std::array<std::byte, header_size> buf;
  error_code ec;
  const auto out = encode_announce(ip::make_address("192.0.2.33"), buf, ec);
  BOOST_REQUIRE(!ec);
  BOOST_TEST((bytes(out.begin(), out.end()) ==
              cat({of({0x02, 0x00, 0x00, 0x00, 0, 0, 0, 0}), bytes(10, std::byte{0}), of({0xFF, 0xFF, 192, 0, 2, 33})})));
}

BOOST_AUTO_TEST_CASE(encoder_refuses_every_buffer_shorter_than_the_request) {
  auto r = some_request();
  r.prefer_failure = true;
  std::array<std::byte, max_message_size> buf;
  for (std::size_t n = 0; n < encoded_size(r); ++n) {
    error_code ec;
    BOOST_TEST(encode(r, std::span{buf}.first(n), ec).empty());
    BOOST_TEST((ec == errc::pcp_buffer_too_small), n);
  }
  error_code ec;
  BOOST_TEST(encode_announce(ip::make_address("192.0.2.33"), std::span{buf}.first(header_size - 1), ec).empty());
  BOOST_TEST((ec == errc::pcp_buffer_too_small));
}

BOOST_AUTO_TEST_CASE(encoder_refuses_a_lifetime_that_does_not_fit_32_bits) {
  std::array<std::byte, max_message_size> buf;
  for (const auto lifetime : {-1s, std::chrono::seconds{0x100000000LL}}) {
    auto r = some_request();
    r.lifetime = lifetime;
    error_code ec;
    BOOST_TEST(encode(r, buf, ec).empty());
    BOOST_TEST((ec == errc::pcp_bad_request));
  }
}

BOOST_AUTO_TEST_CASE(map_success_from_the_figures_decodes_every_field) {
  const auto r = decode_ok(map_success());
  BOOST_TEST((r->opcode == opcode::map));
  BOOST_TEST((r->result == result_code::success));
  BOOST_TEST(r->lifetime.count() == 7200);
  BOOST_TEST(r->epoch.count() == 1000);
  BOOST_REQUIRE(r->map.has_value());
  BOOST_TEST((r->map->nonce == some_nonce));
  BOOST_TEST(r->map->protocol == protocol_udp);
  BOOST_TEST(r->map->internal_port == 40000);
  BOOST_TEST(r->map->external_port == 50000);
  BOOST_TEST(r->map->external_address == ip::make_address("203.0.113.9"));
  BOOST_TEST(!r->prefer_failure);
  BOOST_TEST(!r->third_party.has_value());
}

BOOST_AUTO_TEST_CASE(reserved_fields_are_ignored_as_the_rfc_asks) {
  bytes b = map_success();
  b[2] = std::byte{0x5A};                                       // header reserved
  std::fill(b.begin() + 12, b.begin() + 24, std::byte{0xEE});  // 96 reserved bits
  b[header_size + 13] = std::byte{0x77};                        // body reserved
  const auto r = decode_ok(b);
  BOOST_TEST(r->map->external_port == 50000);
  BOOST_TEST(r->epoch.count() == 1000);
}

BOOST_AUTO_TEST_CASE(announce_response_carries_the_epoch_that_reveals_a_restart) {
  const bytes b = cat({of({0x02, 0x80, 0x00, 0x00, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x05}), bytes(12, std::byte{0})});
  const auto r = decode_ok(b);
  BOOST_TEST((r->opcode == opcode::announce));
  BOOST_TEST(r->epoch.count() == 5);
  BOOST_TEST(!r->map.has_value());
}

BOOST_AUTO_TEST_CASE(a_request_answered_by_a_gateway_round_trips_its_fields) {
  for (const char* client : {"192.0.2.33", "2001:db8::33"}) {
    auto req = some_request();
    req.client = ip::make_address(client);
    req.prefer_failure = true;
    const auto external = ip::make_address_v6("2001:db8:1::9").to_bytes();
    std::array<std::byte, 16> ext;
    std::transform(external.begin(), external.end(), ext.begin(), [](unsigned char c) { return std::byte{c}; });
    const auto r = decode_ok(answer(encode_ok(req), result_code::success, 3600, 77, 61000, ext));
    BOOST_TEST((r->map->nonce == req.nonce));
    BOOST_TEST(r->map->protocol == req.protocol);
    BOOST_TEST(r->map->internal_port == req.internal_port);
    BOOST_TEST(r->map->external_port == 61000);
    BOOST_TEST(r->map->external_address == ip::make_address("2001:db8:1::9"));
    BOOST_TEST(r->lifetime.count() == 3600);
    BOOST_TEST(r->epoch.count() == 77);
    BOOST_TEST(r->prefer_failure);  // the gateway echoes the options it processed (§13.2)
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pcp_result_codes)

BOOST_AUTO_TEST_CASE(every_result_code_has_the_rfc_name) {
  const char* names[] = {"SUCCESS",         "UNSUPP_VERSION",  "NOT_AUTHORIZED", "MALFORMED_REQUEST",
                         "UNSUPP_OPCODE",   "UNSUPP_OPTION",   "MALFORMED_OPTION", "NETWORK_FAILURE",
                         "NO_RESOURCES",    "UNSUPP_PROTOCOL", "USER_EX_QUOTA",  "CANNOT_PROVIDE_EXTERNAL",
                         "ADDRESS_MISMATCH", "EXCESSIVE_REMOTE_PEERS"};
  for (int i = 0; i < 14; ++i) BOOST_TEST(std::string{name(static_cast<result_code>(i))} == names[i]);
  BOOST_TEST(std::string{name(static_cast<result_code>(14))} == "UNKNOWN");
}

BOOST_AUTO_TEST_CASE(an_error_answer_decodes_its_result_with_or_without_the_body) {
  bytes with_body = map_success();
  with_body[3] = std::byte{8};  // NO_RESOURCES
  const auto r = decode_ok(with_body);
  BOOST_TEST((r->result == result_code::no_resources));
  BOOST_TEST(r->map.has_value());

  const bytes header_only(with_body.begin(), with_body.begin() + header_size);
  const auto h = decode_ok(header_only);
  BOOST_TEST((h->result == result_code::no_resources));
  BOOST_TEST(h->lifetime.count() == 7200);  // how long the error holds (§7.2)
  BOOST_TEST(!h->map.has_value());
}

BOOST_AUTO_TEST_CASE(a_version_2_unsupp_version_answer_is_a_result_not_a_decode_error) {
  bytes b = map_success();
  b[3] = std::byte{1};
  BOOST_TEST((decode_ok(b)->result == result_code::unsupp_version));
}

BOOST_AUTO_TEST_SUITE_END()
