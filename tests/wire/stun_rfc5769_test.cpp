// The sample messages of RFC 5769 (test vectors for STUN), typed in from the RFC: each
// decodes, its XOR-MAPPED-ADDRESS gives the RFC's address, and its FINGERPRINT verifies; and
// fingerprint_of against a bit-at-a-time CRC-32 for every length and alignment.
// MESSAGE-INTEGRITY (HMAC-SHA1) is carried but not checked by the codec.
#include "stun_test_support.hpp"

#include <boost/test/unit_test.hpp>

#include <span>
#include <string_view>

using namespace punch;
using namespace punch::stun;
using namespace punch::stun::test;
namespace ip = boost::asio::ip;

namespace {

// RFC 5769 §2.1: sample request (short-term credentials), 108 bytes. USERNAME is padded
// with spaces (0x20), as RFC 5389 allowed.
const bytes sample_request = from_hex(
    "0001 0058  2112a442  b7e7a701 bc34d686 fa87dfae"
    "8022 0010  5354554e 20746573 7420636c 69656e74"  // SOFTWARE "STUN test client"
    "0024 0004  6e0001ff"                             // PRIORITY
    "8029 0008  932ff9b1 51263b36"                    // ICE-CONTROLLED tie breaker
    "0006 0009  6576746a 3a683676 59202020"           // USERNAME "evtj:h6vY" + padding
    "0008 0014  9aeaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2"  // MESSAGE-INTEGRITY
    "8028 0004  e57a3bcf");                           // FINGERPRINT

// RFC 5769 §2.2: sample IPv4 response, 80 bytes.
const bytes sample_ipv4_response = from_hex(
    "0101 003c  2112a442  b7e7a701 bc34d686 fa87dfae"
    "8022 000b  74657374 20766563 746f7220"           // SOFTWARE "test vector" + padding
    "0020 0008  0001a147 e112a643"                    // XOR-MAPPED-ADDRESS
    "0008 0014  2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7"  // MESSAGE-INTEGRITY
    "8028 0004  c07d4c96");                           // FINGERPRINT

// RFC 5769 §2.3: sample IPv6 response, 92 bytes.
const bytes sample_ipv6_response = from_hex(
    "0101 0048  2112a442  b7e7a701 bc34d686 fa87dfae"
    "8022 000b  74657374 20766563 746f7220"           // SOFTWARE "test vector" + padding
    "0020 0014  0002a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9"  // XOR-MAPPED-ADDRESS
    "0008 0014  a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41"  // MESSAGE-INTEGRITY
    "8028 0004  c8fb0b4c");                           // FINGERPRINT

// RFC 5769 §2.4: sample request with long-term authentication, 116 bytes, no FINGERPRINT.
const bytes sample_long_term_request = from_hex(
    "0001 0060  2112a442  78ad3433 c6ad72c0 29da412e"
    "0006 0012  e3839ee3 8388e383 aae38383 e382afe3 82b90000"  // USERNAME (18 bytes)
    "0015 001c  662f2f34 39396b39 35346436 4f4c3334 6f4c3946 53547679 36347341"  // NONCE
    "0014 000b  6578616d 706c652e 6f726700"           // REALM "example.org"
    "0008 0014  f6702465 6dd64a3e 02b8e071 2e85c9a2 8ca89666");  // MESSAGE-INTEGRITY

const transaction_id sample_id = [] {
  const bytes b = from_hex("b7e7a701 bc34d686 fa87dfae");
  transaction_id id{};
  std::copy(b.begin(), b.end(), id.begin());
  return id;
}();

// The FINGERPRINT value as written in the message, and as computed over what precedes it.
std::pair<std::uint32_t, std::uint32_t> fingerprints(const bytes& m) {
  const auto n = m.size();
  const std::uint32_t written = (std::to_integer<std::uint32_t>(m[n - 4]) << 24) |
                                (std::to_integer<std::uint32_t>(m[n - 3]) << 16) |
                                (std::to_integer<std::uint32_t>(m[n - 2]) << 8) |
                                std::to_integer<std::uint32_t>(m[n - 1]);
  return {written, fingerprint_of(std::span(m).first(n - fingerprint_size))};
}

// The CRC-32 of RFC 8489 §14.7 (ISO 3309: reflected polynomial 0xEDB88320, initial and final
// XOR 0xFFFFFFFF), one bit at a time: slow and obviously the definition, so that a faster
// fingerprint_of (zlib's, several bytes per step) is checked against something independent.
std::uint32_t bitwise_fingerprint(std::span<const std::byte> data) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (const std::byte b : data) {
    crc ^= std::to_integer<std::uint32_t>(b);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc ^ fingerprint_xor;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(stun_rfc5769)

BOOST_AUTO_TEST_CASE(vectors_have_the_sizes_the_rfc_gives) {
  BOOST_TEST(sample_request.size() == 108u);
  BOOST_TEST(sample_ipv4_response.size() == 80u);
  BOOST_TEST(sample_ipv6_response.size() == 92u);
  BOOST_TEST(sample_long_term_request.size() == 116u);
}

BOOST_AUTO_TEST_CASE(sample_request_decodes_with_every_attribute) {
  const message m = parse_ok(sample_request);
  BOOST_TEST(m.method() == method::binding);
  BOOST_TEST(m.cls() == message_class::request);
  BOOST_TEST((m.id() == sample_id));
  BOOST_TEST(m.has_fingerprint());
  error_code ec;
  BOOST_TEST(decode_string(*m.find(attr::software)) == "STUN test client");
  BOOST_TEST(*decode_u32(*m.find(attr::priority), ec) == 0x6E0001FFu);
  BOOST_TEST(*decode_u64(*m.find(attr::ice_controlled), ec) == 0x932FF9B151263B36u);
  BOOST_TEST(decode_string(*m.find(attr::username)) == "evtj:h6vY");
  BOOST_TEST(m.find(attr::message_integrity)->value.size() == 20u);
  BOOST_TEST(m.find(attr::fingerprint)->value.size() == 4u);
}

BOOST_AUTO_TEST_CASE(sample_ipv4_response_maps_to_192_0_2_1_port_32853) {
  const message m = parse_ok(sample_ipv4_response);
  BOOST_TEST(m.cls() == message_class::success_response);
  BOOST_TEST((m.id() == sample_id));
  BOOST_TEST(m.has_fingerprint());
  BOOST_TEST(decode_string(*m.find(attr::software)) == "test vector");
  error_code ec;
  const auto ep = decode_xor_address(*m.find(attr::xor_mapped_address), m.id(), ec);
  BOOST_TEST(!ec);
  BOOST_TEST((ep == endpoint(ip::make_address("192.0.2.1"), 32853)));
}

BOOST_AUTO_TEST_CASE(sample_ipv6_response_maps_to_2001_db8_1234_5678_11_2233_4455_6677_port_32853) {
  const message m = parse_ok(sample_ipv6_response);
  BOOST_TEST(m.cls() == message_class::success_response);
  BOOST_TEST(m.has_fingerprint());
  error_code ec;
  const auto ep = decode_xor_address(*m.find(attr::xor_mapped_address), m.id(), ec);
  BOOST_TEST(!ec);
  BOOST_TEST((ep == endpoint(ip::make_address("2001:db8:1234:5678:11:2233:4455:6677"), 32853)));
}

BOOST_AUTO_TEST_CASE(sample_long_term_request_decodes_without_a_fingerprint) {
  const message m = parse_ok(sample_long_term_request);
  BOOST_TEST(m.cls() == message_class::request);
  BOOST_TEST(!m.has_fingerprint());
  error_code ec;
  // "マトリックス" in UTF-8.
  BOOST_TEST(*decode_string(*m.find(attr::username), ec) ==
             "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9");
  BOOST_TEST(decode_string(*m.find(attr::nonce)) == "f//499k954d6OL34oL9FSTvy64sA");
  BOOST_TEST(decode_string(*m.find(attr::realm)) == "example.org");
  BOOST_TEST(m.find(attr::message_integrity)->value.size() == 20u);
}

BOOST_AUTO_TEST_CASE(sample_fingerprints_equal_the_crc_we_compute) {
  for (const bytes* m : {&sample_request, &sample_ipv4_response, &sample_ipv6_response}) {
    const auto [written, computed] = fingerprints(*m);
    BOOST_TEST(written == computed);
  }
}

BOOST_AUTO_TEST_CASE(sample_fingerprints_are_the_values_the_rfc_prints) {
  // The last four bytes of each sample as RFC 5769 prints them, not as this file computes them.
  BOOST_TEST(fingerprints(sample_request).second == 0xE57A3BCFu);
  BOOST_TEST(fingerprints(sample_ipv4_response).second == 0xC07D4C96u);
  BOOST_TEST(fingerprints(sample_ipv6_response).second == 0xC8FB0B4Cu);
}

BOOST_AUTO_TEST_CASE(fingerprint_is_the_iso_3309_crc_for_every_length_and_alignment) {
  // zlib's crc32 takes different paths for short tails, unaligned starts and long runs: every
  // length up to a full message, from each start offset in a word, against the bitwise CRC.
  bytes data(max_message_size + 8);
  std::uint32_t x = 0x12345678u;
  for (std::byte& b : data) {
    x = x * 1664525u + 1013904223u;  // a fixed LCG: the same bytes every run
    b = std::byte(x >> 24);
  }
  std::size_t mismatches = 0;
  for (std::size_t start = 0; start < 8; ++start) {
    for (std::size_t n = 0; n <= max_message_size; n += (n < 64 ? 1 : 37)) {
      const auto part = std::span(data).subspan(start, n);
      if (fingerprint_of(part) != bitwise_fingerprint(part)) ++mismatches;
    }
  }
  BOOST_TEST(mismatches == 0u);
  // The CRC-32 check value (ISO 3309): "123456789" gives 0xCBF43926 before the STUN XOR.
  const std::string_view check = "123456789";
  BOOST_TEST(fingerprint_of(std::as_bytes(std::span(check))) == (0xCBF43926u ^ fingerprint_xor));
}

BOOST_AUTO_TEST_CASE(one_flipped_byte_fails_the_fingerprint) {
  for (const bytes* sample : {&sample_request, &sample_ipv4_response, &sample_ipv6_response}) {
    bytes m = *sample;
    m[28] ^= std::byte{0x01};  // inside the SOFTWARE value: framing stays valid
    BOOST_TEST(parse_error(m) == errc::bad_fingerprint);
    m[28] ^= std::byte{0x01};
    m.back() ^= std::byte{0x80};  // the FINGERPRINT value itself
    BOOST_TEST(parse_error(m) == errc::bad_fingerprint);
  }
}

BOOST_AUTO_TEST_CASE(every_single_byte_change_is_detected_except_in_the_fingerprint_type) {
  // Changing the FINGERPRINT type turns it into another, unknown attribute: still valid.
  for (const bytes* sample : {&sample_request, &sample_ipv4_response, &sample_ipv6_response}) {
    const std::size_t fingerprint_type_at = sample->size() - fingerprint_size;
    for (std::size_t i = 0; i < sample->size(); ++i) {
      if (i == fingerprint_type_at || i == fingerprint_type_at + 1) continue;
      bytes m = *sample;
      m[i] ^= std::byte{0x5A};
      BOOST_TEST(parse_error(m) != errc{}, "byte " << i << " changed undetected");
    }
  }
}

BOOST_AUTO_TEST_CASE(space_padding_of_the_samples_fails_only_the_strict_padding_check) {
  const parse_options strict{.padding = padding_check::require_zero};
  BOOST_TEST(parse_error(sample_request, strict) == errc::bad_padding);
  BOOST_TEST(parse_error(sample_ipv4_response, strict) == errc::bad_padding);
  BOOST_TEST(parse_error(sample_ipv6_response, strict) == errc::bad_padding);
  BOOST_TEST(parse_error(sample_long_term_request, strict) == errc{});  // zero-padded
}

BOOST_AUTO_TEST_CASE(rebuilding_a_sample_keeps_every_attribute) {
  for (const bytes* m : {&sample_request, &sample_ipv4_response, &sample_ipv6_response,
                         &sample_long_term_request}) {
    BOOST_TEST(decode_everything_and_rebuild(parse_ok(*m)));
  }
}

BOOST_AUTO_TEST_CASE(our_builder_reproduces_the_zero_padded_long_term_sample) {
  std::array<std::byte, max_message_size> buf;
  transaction_id id{};
  std::copy_n(sample_long_term_request.begin() + 8, id.size(), id.begin());
  const message sample = parse_ok(sample_long_term_request);
  builder b{buf, message_class::request, method::binding, id};
  b.add_string(attr::username, decode_string(*sample.find(attr::username)))
      .add_string(attr::nonce, "f//499k954d6OL34oL9FSTvy64sA")
      .add_string(attr::realm, "example.org")
      .add(attr::message_integrity, sample.find(attr::message_integrity)->value);
  const auto out = b.finish();
  BOOST_TEST(std::equal(out.begin(), out.end(), sample_long_term_request.begin(),
                        sample_long_term_request.end()));
}

BOOST_AUTO_TEST_SUITE_END()
