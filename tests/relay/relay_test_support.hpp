// Test support for the relay: ALLOCATE requests built by hand (with or without a NONCE,
// padded to any size), answers parsed into an owning value, and a relay whose clock the test
// moves on. Shared by the unit, sim and allocation tests.
#pragma once

#include "stun_answer.hpp"

#include "punch/relay.hpp"
#include "punch/wire/protocol.hpp"
#include "punch/wire/stun.hpp"
#include "function_clock.hpp"

#include <boost/test/unit_test.hpp>

#include <sodium.h>

#include <array>
#include <chrono>
#include <cstring>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <vector>

namespace relay_test {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using punch::endpoint;
using bytes = std::vector<std::byte>;
namespace stun = punch::stun;
namespace wire = punch::wire;

inline endpoint ep(const char* address, unsigned short port) { return {asio::ip::make_address(address), port}; }

using punch_test::random_id;

inline punch::relay_id make_relay_id(unsigned char seed) {
  punch::relay_id id;
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = std::byte(seed + 7 * i);
  return id;
}

// An ALLOCATE for `id` with `nonce` (none if empty), padded with PADDING to `pad_to` bytes
// (wire::answer_bound::allocate, as a session pads it, unless told otherwise).
inline bytes allocate_request(const punch::relay_id& id, const bytes& nonce = {},
                              std::size_t pad_to = wire::answer_bound::allocate,
                              stun::transaction_id tid = random_id()) {
  std::array<std::byte, stun::max_message_size> buf;
  stun::builder b(buf, stun::message_class::request, wire::method::allocate, tid);
  b.add(wire::attr::relay_id, id);
  if (!nonce.empty()) b.add(wire::attr::nonce, nonce);
  if (b.size() + stun::fingerprint_size + 4 <= pad_to) {
    const std::size_t value = pad_to - b.size() - stun::fingerprint_size - 4;
    const bytes zeros(value);
    b.add(wire::attr::padding, zeros);
  }
  auto out = b.finish_with_fingerprint();
  BOOST_REQUIRE(!b.error());
  return {out.begin(), out.end()};
}

// A parsed answer that owns its bytes, with the readers of ALLOCATE's attributes.
struct answer : punch_test::stun_answer {
  bytes nonce() const { return value(wire::attr::nonce); }
  std::optional<endpoint> mapped() const { return xor_address(stun::attr::xor_mapped_address); }
  std::optional<std::uint32_t> lifetime() const { return u32(wire::attr::lifetime); }
};

// The answer parsed; the test fails if it is not a valid ALLOCATE answer with FINGERPRINT.
inline std::optional<answer> parse(std::span<const std::byte> data) {
  auto a = punch_test::parse_answer<answer>(data, "the relay");
  if (!a) return a;
  BOOST_TEST(a->msg.method() == wire::method::allocate);
  BOOST_TEST(a->msg.has_fingerprint());
  return a;
}

// A relay fed datagram by datagram through handle(), without a socket, on a clock the test
// moves (the sim and real tests serve a socket instead).
struct handle_fixture {
  explicit handle_fixture(punch::relay_options o = {}) : relay(socket, with_clock(std::move(o))) {
    relay.on_event([this](const punch::relay_event& e) { events.push_back(e); });
  }
  punch::relay_options with_clock(punch::relay_options o) {
    if (!o.clock) o.clock = &clock;
    return o;
  }

  // The relay's decision about `d` from `from`.
  punch::relay_action send(std::span<const std::byte> d, const endpoint& from) {
    return relay.handle(d, from, out);
  }
  // Sends an ALLOCATE and returns its answer (the test fails if there is none).
  std::optional<answer> exchange(const bytes& request, const endpoint& from) {
    const auto act = send(request, from);
    BOOST_TEST_REQUIRE((act.what == punch::relay_action::kind::answer), "no answer to an ALLOCATE");
    BOOST_TEST(act.to == from);
    BOOST_TEST(act.bytes.size() <= request.size(), "answer of " << act.bytes.size() << " bytes to " << request.size());
    return parse(act.bytes);
  }
  // The whole exchange of a session: unauthenticated first (401 with a NONCE), then with it.
  std::optional<answer> allocate(const punch::relay_id& id, const endpoint& from) {
    auto challenge = exchange(allocate_request(id), from);
    BOOST_TEST_REQUIRE(challenge.has_value());
    BOOST_TEST_REQUIRE(challenge->error_code() == wire::error::unauthenticated);
    return exchange(allocate_request(id, challenge->nonce()), from);
  }

  std::chrono::steady_clock::time_point now = std::chrono::steady_clock::time_point{} + 1000h;
  test::function_clock clock{[this] { return now; }};
  punch::datagram_socket socket;  // never opened: handle() needs none
  punch::relay relay;
  std::array<std::byte, stun::max_message_size> out{};
  std::vector<punch::relay_event> events;
};

}  // namespace relay_test
