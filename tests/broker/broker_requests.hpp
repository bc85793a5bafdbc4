// Test support for the broker tests: requests built by hand (padded to any size, with or
// without FINGERPRINT), answers parsed into an owning value with readers of punch's
// attributes, and the step of a Register exchange a peer takes after each answer.
#pragma once

#include "signed_register.hpp"
#include "stun_answer.hpp"

#include "punch/wire/protocol.hpp"
#include "punch/wire/stun.hpp"

#include <boost/test/unit_test.hpp>

#include <cstring>
#include <functional>
#include <optional>
#include <vector>

namespace broker_test {

using punch::endpoint;
using bytes = std::vector<std::byte>;

// The amplification rule of docs/protocol.md: answer ≤ max(request, 64 bytes).
inline constexpr std::size_t response_floor = 64;

using punch_test::random_id;

// A request: `add` writes its attributes; `pad_to` pads it with PADDING to at least that size.
inline bytes make_message(punch::stun::message_class cls, std::uint16_t method,
                          const punch::stun::transaction_id& id,
                          const std::function<void(punch::stun::builder&)>& add = {},
                          std::size_t pad_to = 0, bool fingerprint = true) {
  std::array<std::byte, punch::stun::max_message_size> buf;
  punch::stun::builder b(buf, cls, method, id);
  if (add) add(b);
  const std::size_t tail = fingerprint ? punch::stun::fingerprint_size : 0;
  if (b.size() + tail < pad_to) {
    const std::size_t value = pad_to - b.size() - tail - 4;
    const bytes zeros((value + 3) & ~std::size_t{3});
    b.add(punch::wire::attr::padding, zeros);
  }
  auto out = fingerprint ? b.finish_with_fingerprint() : b.finish();
  BOOST_REQUIRE(!b.error());
  return {out.begin(), out.end()};
}

inline bytes make_request(std::uint16_t method, const punch::stun::transaction_id& id,
                          const std::function<void(punch::stun::builder&)>& add = {},
                          std::size_t pad_to = 0, bool fingerprint = true) {
  return make_message(punch::stun::message_class::request, method, id, add, pad_to, fingerprint);
}

// A parsed answer that owns its bytes, with the readers of punch's attributes.
struct answer : punch_test::stun_answer {
  std::optional<punch::public_key> key() const {
    auto a = msg.find(punch::wire::attr::public_key);
    if (!a || a->value.size() != punch::public_key_size) return std::nullopt;
    punch::public_key k;
    std::memcpy(k.data(), a->value.data(), k.size());
    return k;
  }
  bytes nonce() const { return nonce_of(msg); }
  bytes credential() const { return credential_of(msg); }
  std::optional<punch::wire::token> token() const {
    auto a = msg.find(punch::wire::attr::token);
    if (!a || a->value.size() != punch::wire::token_size) return std::nullopt;
    punch::wire::token t;
    std::memcpy(t.data(), a->value.data(), t.size());
    return t;
  }
};

// The answer parsed, or nullopt (the test fails) if it is not valid STUN.
inline std::optional<answer> parse(const bytes& data) { return punch_test::parse_answer<answer>(data, "the broker"); }

// After an answer to a Register: keeps its NONCE and REFRESH-CREDENTIAL, and says whether a
// peer tries again (a 401 or 438 with a fresh NONCE; not a bad signature).
inline bool keep_and_retry(const answer& a, bytes& nonce, bytes& credential) {
  if (auto n = a.nonce(); !n.empty()) nonce = n;
  if (auto c = a.credential(); !c.empty()) credential = c;
  const int code = a.error_code();
  if (code != punch::wire::error::unauthenticated && code != punch::wire::error::stale_nonce) return false;
  return !(code == punch::wire::error::unauthenticated && a.reason() == "bad signature");
}

}  // namespace broker_test
