// Seeded random inputs for the STUN parser: random datagrams, random datagrams behind a valid
// header, and random mutations of valid messages. Each must either parse into a message that
// every decoder and the builder handle, or be rejected with a punch error. The libFuzzer
// target (fuzz/fuzz_stun.cpp) explores further; these runs repeat exactly in every build.
#include "stun_test_support.hpp"

#include <boost/test/unit_test.hpp>

#include <random>

using namespace punch;
using namespace punch::stun;
using namespace punch::stun::test;
namespace ip = boost::asio::ip;

namespace {

constexpr std::uint32_t seed = 20240611;

bytes random_bytes(std::mt19937& rng, std::size_t n) {
  std::uniform_int_distribution<int> byte(0, 255);
  bytes out(n);
  for (auto& b : out) b = static_cast<std::byte>(byte(rng));
  return out;
}

// Parses under both padding policies; a success must survive every decoder and a rebuild.
// Returns how many of the two parses succeeded.
int check(std::span<const std::byte> d) {
  int ok = 0;
  for (const auto padding : {padding_check::ignore, padding_check::require_zero}) {
    error_code ec;
    const auto m = message::parse(d, ec, {.padding = padding});
    BOOST_REQUIRE_EQUAL(m.has_value(), !ec);
    if (!m) {
      BOOST_REQUIRE(ec.category() == punch::category());
      continue;
    }
    ++ok;
    BOOST_REQUIRE(looks_like_stun(d));
    BOOST_REQUIRE(decode_everything_and_rebuild(*m));
  }
  return ok;
}

// A few valid messages to mutate: every attribute kind we build, with and without FINGERPRINT.
std::vector<bytes> valid_messages() {
  std::vector<bytes> out;
  std::array<std::byte, max_message_size> buf;
  transaction_id id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<std::byte>(i * 17);
  {
    builder b{buf, message_class::request, method::binding, id};
    const auto m = b.add_software("punch").add_u32(attr::priority, 7).finish_with_fingerprint();
    out.emplace_back(m.begin(), m.end());
  }
  {
    builder b{buf, message_class::success_response, method::binding, id};
    const auto m = b.add_xor_address(attr::xor_mapped_address, {ip::make_address("192.0.2.1"), 32853})
                       .add_xor_address(attr::xor_mapped_address, {ip::make_address("2001:db8::9"), 9})
                       .add_address(attr::response_origin, {ip::make_address("198.51.100.1"), 3478})
                       .finish_with_fingerprint();
    out.emplace_back(m.begin(), m.end());
  }
  {
    builder b{buf, message_class::error_response, 0x0D1, id};
    const auto m = b.add_error_code(404, "peer not found").add_u64(attr::ice_controlling, 99).finish();
    out.emplace_back(m.begin(), m.end());
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(stun_random)

BOOST_AUTO_TEST_CASE(thousands_of_random_datagrams_are_rejected_or_parsed_safely) {
  std::mt19937 rng{seed};
  std::uniform_int_distribution<std::size_t> size(0, 120);
  for (int i = 0; i < 20000; ++i) {
    check(random_bytes(rng, size(rng)));
  }
}

BOOST_AUTO_TEST_CASE(random_bodies_behind_a_valid_header_are_rejected_or_parsed_safely) {
  // A random header almost never gets past the cookie; these reach the attribute walk.
  std::mt19937 rng{seed + 1};
  std::uniform_int_distribution<std::size_t> words(0, 24);
  std::uniform_int_distribution<int> small(0, 15);
  int parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    bytes d = from_hex("0001 0000 2112a442 000102030405060708090a0b");
    bytes body = random_bytes(rng, 4 * words(rng));
    // Keep attribute lengths small most of the time so that some walks succeed.
    for (std::size_t at = 0; at + 4 <= body.size(); at += 4 + 4 * (small(rng) % 3)) {
      body[at + 2] = std::byte{0};
      body[at + 3] = static_cast<std::byte>(small(rng));
    }
    d[2] = static_cast<std::byte>(body.size() >> 8);
    d[3] = static_cast<std::byte>(body.size() & 0xFF);
    d.insert(d.end(), body.begin(), body.end());
    parsed += check(d) > 0;
  }
  BOOST_TEST_MESSAGE(parsed << " of 20000 random bodies parsed");
  BOOST_TEST(parsed > 100);  // the walk was exercised, not only the header checks
}

BOOST_AUTO_TEST_CASE(random_mutations_of_valid_messages_are_rejected_or_parsed_safely) {
  std::mt19937 rng{seed + 2};
  const auto originals = valid_messages();
  for (const auto& m : originals) BOOST_REQUIRE_EQUAL(check(m), 2);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> flips(1, 4);
  std::uniform_int_distribution<int> kind(0, 3);
  for (int i = 0; i < 30000; ++i) {
    bytes d = originals[static_cast<std::size_t>(i) % originals.size()];
    switch (kind(rng)) {
      case 0:  // overwrite a few bytes
      case 1:
        for (int f = flips(rng); f > 0; --f) {
          d[std::uniform_int_distribution<std::size_t>(0, d.size() - 1)(rng)] =
              static_cast<std::byte>(byte(rng));
        }
        break;
      case 2:  // cut the datagram short
        d.resize(std::uniform_int_distribution<std::size_t>(0, d.size() - 1)(rng));
        break;
      case 3: {  // append bytes, sometimes fixing up the length field to match
        const bytes extra = random_bytes(rng, 4 * static_cast<std::size_t>(flips(rng)));
        d.insert(d.end(), extra.begin(), extra.end());
        if (byte(rng) % 2 == 0) {
          d[2] = static_cast<std::byte>((d.size() - header_size) >> 8);
          d[3] = static_cast<std::byte>((d.size() - header_size) & 0xFF);
        }
        break;
      }
    }
    check(d);
  }
}

BOOST_AUTO_TEST_SUITE_END()
