// The TURN client against a scripted TURN server on loopback that answers as a broken or
// hostile one would: a stale nonce is renewed once and no more, an answer with bad integrity is
// ignored (the retransmission's good one is taken), and refusals and answers that lack what
// they must carry end the allocation with their own errc. Registration goes on in every case,
// never waiting for the allocation; one granted later is announced to the broker.
#include "turn_test_support.hpp"

#include "punch/wire/turn.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace punch;
using namespace std::chrono_literals;

namespace {

using test::loopback;
const auto key = turn::make_long_term_key("alice", "punch.test", "wonderland");
const endpoint granted{loopback, 40000};  // what every scripted grant allocates

// What the scripted server saw of one request.
struct seen_request {
  std::uint16_t method = 0;
  std::string nonce;            // empty: unauthenticated
  bool integrity_ok = false;    // MESSAGE-INTEGRITY verifies with alice's key
  std::optional<std::uint32_t> lifetime;  // LIFETIME, if any
};

// Builds one answer to `req` (the n-th request, from 0); an empty vector sends nothing.
using script = std::function<std::vector<std::byte>(const stun::message& req, std::size_t n)>;

std::vector<std::byte> answer(const stun::message& req, int code, std::string_view nonce, bool relayed, bool sign,
                              bool bad_mac = false) {
  std::array<std::byte, stun::max_message_size> buf;
  stun::builder b(buf, code ? stun::message_class::error_response : stun::message_class::success_response,
                  req.method(), req.id());
  if (code) b.add_error_code(code, "scripted");
  if (!nonce.empty()) {
    b.add_string(turn::attr::realm, "punch.test");
    b.add_string(turn::attr::nonce, nonce);
  }
  if (relayed) {
    b.add_xor_address(turn::attr::xor_relayed_address, granted);
    b.add_u32(turn::attr::lifetime, 600);
  }
  if (sign) turn::add_message_integrity(b, bad_mac ? turn::make_long_term_key("x", "y", "z") : key);
  const auto out = b.finish_with_fingerprint();
  return {out.begin(), out.end()};
}

struct result : test::registration_outcome {
  std::vector<seen_request> requests;
};

// `then_release`: after register_self the session is closed and the server goes on reading for
// a moment, to see what the close sends.
result run(script s, bool then_release = false) {
  test::loopback_broker w;
  auto server = w.udp->open(endpoint{loopback, 0});
  result r;
  asio::co_spawn(
      w.ctx,
      [&]() -> asio::awaitable<void> {
        std::array<std::byte, 2048> in;
        endpoint from;
        for (;;) {
          auto [e, n] = co_await server.async_receive_from(asio::buffer(in), from, asio::as_tuple(asio::use_awaitable));
          if (e) co_return;
          error_code pe;
          auto m = stun::message::parse(std::span<const std::byte>(in.data(), n), pe);
          if (!m || m->cls() != stun::message_class::request) continue;
          seen_request seen{m->method(), {}, turn::check_message_integrity(*m, key), std::nullopt};
          if (auto a = m->find(turn::attr::nonce)) seen.nonce = std::string(stun::decode_string(*a));
          if (auto a = m->find(turn::attr::lifetime)) seen.lifetime = stun::decode_u32(*a, pe);
          r.requests.push_back(seen);
          const auto out = s(*m, r.requests.size() - 1);
          if (!out.empty())
            co_await server.async_send_to(asio::buffer(out), from, asio::as_tuple(asio::use_awaitable));
        }
      },
      asio::detached);
  turn_server t;
  t.address = server.local_endpoint();
  t.user = "alice";
  t.password = "wonderland";
  static_cast<test::registration_outcome&>(r) = test::register_alice(w, {t}, 2s, [&] {
    if (!then_release) server.close();
  });
  if (then_release) {
    // The close's datagram is on its way: let the server read what came.
    w.ctx.restart();
    w.ctx.run_for(500ms);
  }
  return r;
}

// Only Allocates are scripted; anything after the allocation (none is sent before the session
// closes) is left unanswered.
bool allocate(const stun::message& m) { return m.method() == turn::method::allocate; }

}  // namespace

BOOST_AUTO_TEST_SUITE(turn_hostile)

BOOST_AUTO_TEST_CASE(a_stale_nonce_is_renewed_once_and_the_allocation_succeeds) {
  const auto r = run([](const stun::message& m, std::size_t n) -> std::vector<std::byte> {
    if (!allocate(m)) return {};
    if (n == 0) return answer(m, turn::error::unauthorized, "nonce-1", false, false);
    if (n == 1) return answer(m, turn::error::stale_nonce, "nonce-2", false, false);
    return answer(m, 0, {}, true, true);
  });
  BOOST_TEST(r.registered);
  BOOST_TEST(r.allocated);
  BOOST_TEST_REQUIRE(r.requests.size() >= 3u);
  BOOST_TEST(r.requests[0].nonce.empty());
  BOOST_TEST(r.requests[1].nonce == "nonce-1");
  BOOST_TEST(r.requests[1].integrity_ok);
  BOOST_TEST(r.requests[2].nonce == "nonce-2");
  BOOST_TEST(r.requests[2].integrity_ok);
}

BOOST_AUTO_TEST_CASE(closing_the_session_deletes_the_allocation_with_an_authenticated_refresh_of_lifetime_0) {
  const auto r = run(
      [](const stun::message& m, std::size_t n) -> std::vector<std::byte> {
        if (n == 0) return answer(m, turn::error::unauthorized, "nonce-1", false, false);
        if (allocate(m)) return answer(m, 0, {}, true, true);
        return {};
      },
      true);
  BOOST_TEST(r.allocated);
  BOOST_TEST_REQUIRE(r.requests.size() >= 3u);
  const auto& last = r.requests.back();
  BOOST_TEST(last.method == turn::method::refresh);
  BOOST_TEST(last.lifetime.value_or(1) == 0u);
  BOOST_TEST(last.integrity_ok);
  BOOST_TEST(last.nonce == "nonce-1");
}

BOOST_AUTO_TEST_CASE(a_server_that_keeps_saying_stale_nonce_is_refused_after_one_renewal) {
  const auto r = run([](const stun::message& m, std::size_t n) -> std::vector<std::byte> {
    if (n == 0) return answer(m, turn::error::unauthorized, "nonce-0", false, false);
    return answer(m, turn::error::stale_nonce, "nonce-" + std::to_string(n), false, false);
  });
  BOOST_TEST(r.registered);
  BOOST_TEST(!r.allocated);
  BOOST_TEST(r.failed == make_error_code(errc::turn_refused), r.failed.message());
  BOOST_TEST(r.requests.size() == 3u);  // the 401 round, the first 438, the second 438: no loop
}

BOOST_AUTO_TEST_CASE(an_answer_with_bad_integrity_is_ignored_and_the_retransmission_answered) {
  const auto r = run([](const stun::message& m, std::size_t n) -> std::vector<std::byte> {
    if (n == 0) return answer(m, turn::error::unauthorized, "nonce-1", false, false);
    return answer(m, 0, {}, true, true, /*bad_mac=*/n == 1);
  });
  BOOST_TEST(r.allocated);
  BOOST_TEST(r.ignored == 1u);
  BOOST_TEST(r.requests.size() == 3u);
}

BOOST_AUTO_TEST_CASE(answers_that_only_ever_have_bad_integrity_end_in_turn_unreachable) {
  const auto r = run([](const stun::message& m, std::size_t n) -> std::vector<std::byte> {
    if (n == 0) return answer(m, turn::error::unauthorized, "nonce-1", false, false);
    return answer(m, 0, {}, true, true, true);
  });
  BOOST_TEST(r.registered);
  BOOST_TEST(!r.allocated);
  BOOST_TEST(r.failed == make_error_code(errc::turn_unreachable), r.failed.message());
  BOOST_TEST(r.ignored >= 1u);
}

BOOST_AUTO_TEST_CASE(a_forbidden_allocation_is_turn_refused) {
  const auto r = run([](const stun::message& m, std::size_t n) -> std::vector<std::byte> {
    if (n == 0) return answer(m, turn::error::unauthorized, "nonce-1", false, false);
    return answer(m, turn::error::forbidden, {}, false, true);
  });
  BOOST_TEST(r.registered);
  BOOST_TEST(r.failed == make_error_code(errc::turn_refused), r.failed.message());
}

BOOST_AUTO_TEST_CASE(a_401_without_realm_and_nonce_is_turn_bad_response) {
  const auto r = run([](const stun::message& m, std::size_t) { return answer(m, turn::error::unauthorized, {}, false, false); });
  BOOST_TEST(r.failed == make_error_code(errc::turn_bad_response), r.failed.message());
  BOOST_TEST(r.requests.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_success_without_a_relayed_address_is_turn_bad_response) {
  const auto r = run([](const stun::message& m, std::size_t n) -> std::vector<std::byte> {
    if (n == 0) return answer(m, turn::error::unauthorized, "nonce-1", false, false);
    return answer(m, 0, {}, false, true);
  });
  BOOST_TEST(!r.allocated);
  BOOST_TEST(r.failed == make_error_code(errc::turn_bad_response), r.failed.message());
}

BOOST_AUTO_TEST_CASE(a_second_401_to_our_credentials_is_turn_unauthorized) {
  const auto r = run([](const stun::message& m, std::size_t n) -> std::vector<std::byte> {
    return answer(m, turn::error::unauthorized, "nonce-" + std::to_string(n), false, false);
  });
  BOOST_TEST(r.failed == make_error_code(errc::turn_unauthorized), r.failed.message());
  BOOST_TEST(r.requests.size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_turn_server_that_never_answers_does_not_hold_up_registration) {
  const auto r = run([](const stun::message&, std::size_t) { return std::vector<std::byte>{}; });
  BOOST_TEST(r.registered);
  // One broker round trip on loopback; the allocation alone is given the whole 2 s.
  BOOST_TEST(r.took.count() < 250, r.took.count() << " ms");
  BOOST_TEST(r.failed == make_error_code(errc::turn_unreachable), r.failed.message());
  BOOST_TEST(r.requests.size() >= 4u);  // retransmitted for the whole timeout
  BOOST_TEST(std::count(r.looked_up.begin(), r.looked_up.end(), granted) == 0);
}

BOOST_AUTO_TEST_CASE(an_allocation_granted_after_registration_is_announced_to_the_broker) {
  // Silent for the first three sends (at 0, 50 and 150 ms): the grant comes 350 ms or more
  // after register_self started.
  const auto r = run([](const stun::message& m, std::size_t n) -> std::vector<std::byte> {
    if (!allocate(m) || n < 3) return {};
    if (n == 3) return answer(m, turn::error::unauthorized, "nonce-1", false, false);
    return answer(m, 0, {}, true, true);
  });
  BOOST_TEST(r.registered);
  BOOST_TEST(r.took.count() < 250, r.took.count() << " ms");
  BOOST_TEST(r.allocated);
  BOOST_TEST(std::count(r.looked_up.begin(), r.looked_up.end(), granted) == 1);
}

BOOST_AUTO_TEST_SUITE_END()
