// The broker's per-address rate limit over real UDP on loopback (docs/protocol.md, "Rate
// limit"): a burst is served, what goes beyond it is dropped unanswered and counted, another
// address is not affected, and the bucket refills as the (fixture's) clock moves on.
#include "broker_test_support.hpp"

#include <boost/asio/post.hpp>

BOOST_AUTO_TEST_SUITE(broker_rate_limit_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace broker_test;
namespace stun = punch::stun;
namespace wire = punch::wire;
using cls = stun::message_class;

namespace {

bytes binding() { return make_request(wire::method::binding, random_id()); }

// Sends `n` Bindings at once from `c`, waits (yielding to the broker, which shares the
// io_context; bounded) until the broker has read them all, and returns how many it admitted
// by its counters, after receiving exactly that many answers.
asio::awaitable<std::size_t> burst(broker_fixture& f, client& c, std::size_t n) {
  const auto before = f.broker.stats();
  for (std::size_t i = 0; i < n; ++i) co_await c.send(binding(), f.address);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (f.broker.stats().received < before.received + n && std::chrono::steady_clock::now() < deadline)
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  BOOST_TEST_REQUIRE(f.broker.stats().received == before.received + n, "the broker did not read the burst");
  const std::size_t admitted = n - (f.broker.stats().rate_limited - before.rate_limited);
  for (std::size_t i = 0; i < admitted; ++i) BOOST_TEST_REQUIRE((co_await c.receive(2s)).has_value());
  co_return admitted;
}

bool can_bind(const char* address) {
  asio::io_context probe;
  asio::ip::udp::socket s(probe);
  punch::error_code ec;
  s.open(asio::ip::udp::v4(), ec);
  if (!ec) s.bind(endpoint{asio::ip::make_address(address), 0}, ec);
  return !ec;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(broker_rate_limit)

BOOST_AUTO_TEST_CASE(datagrams_beyond_the_burst_are_dropped_counted_and_allowed_again_as_time_passes) {
  punch::broker_options o;
  o.rate_limit = 10;
  o.rate_burst = 5;
  o.rate_limit_table = 1 << 16;
  broker_fixture f(o);
  const bool second_address = can_bind("127.0.0.2");
  f.freeze();  // no refill but the ones the test makes
  f.run([&]() -> asio::awaitable<void> {
    client a(*f.udp), same_address(*f.udp);
    BOOST_TEST(co_await burst(f, a, 8) == 5u);
    // Another port of the same address shares the bucket, which is empty now.
    BOOST_TEST(co_await burst(f, same_address, 2) == 0u);
    BOOST_TEST(f.broker.stats().rate_limited == 5u);

    if (second_address) {
      // Another address has its own bucket.
      client b(*f.udp, "127.0.0.2");
      BOOST_TEST(co_await burst(f, b, 3) == 3u);
    } else {
      BOOST_TEST_MESSAGE("127.0.0.2 cannot be bound here: the second-address case is not run");
    }

    // One second later: 10 tokens earned, 5 kept (the burst).
    f.skew += 1s;
    BOOST_TEST(co_await burst(f, a, 8) == 5u);
    // 0.3 s: 3 tokens.
    f.skew += 300ms;
    BOOST_TEST(co_await burst(f, same_address, 5) == 3u);
    // Nothing was answered that the counters call dropped.
    BOOST_TEST(!(co_await a.receive(100ms)).has_value());
    BOOST_TEST(!(co_await same_address.receive(10ms)).has_value());
  });
  BOOST_TEST(f.broker.stats().rate_limited == 5u + 3u + 2u);
  BOOST_TEST(f.broker.stats().rate_limited + f.broker.stats().bindings == f.broker.stats().received);
}

BOOST_AUTO_TEST_CASE(a_rate_limit_of_zero_is_no_limit) {
  punch::broker_options o;
  o.rate_limit = 0;
  broker_fixture f(o);
  f.run([&]() -> asio::awaitable<void> {
    client c(*f.udp);
    std::size_t answered = 0;
    for (int i = 0; i < 400; ++i)
      if ((co_await c.exchange(binding(), f.address))->msg.cls() == cls::success_response) ++answered;
    BOOST_TEST(answered == 400u);
  });
  BOOST_TEST(f.broker.stats().rate_limited == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()  // broker_rate_limit_test
