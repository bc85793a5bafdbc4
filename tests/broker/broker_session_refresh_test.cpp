// A session's keepalive against a broker over real UDP on 127.0.0.1 (docs/protocol.md,
// "Refresh"): its refreshes carry the REFRESH-CREDENTIAL and cost the broker no signature
// verification until the credential expires. Time moves by the fixture's clock.
#include "broker_test_support.hpp"

#include "punch/session.hpp"

BOOST_AUTO_TEST_SUITE(broker_session_refresh_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace broker_test;

namespace {

const punch::identity alice_key = test_identity(1);
const endpoint lan{asio::ip::make_address("192.168.1.2"), 4000};

punch::broker_options long_lived() {
  punch::broker_options o;
  o.max_lifetime = 600s;
  o.refresh_lifetime = 300s;
  return o;
}

}  // namespace

// A session over real UDP against the fixture's broker: register_self() signs once; the
// keepalive's refreshes then carry the credential; once it expires, one refresh is refused
// and the session signs again by itself.
BOOST_AUTO_TEST_SUITE(session_refresh)

BOOST_AUTO_TEST_CASE(keepalive_refreshes_cost_the_broker_no_signature_until_the_credential_expires) {
  broker_fixture f(long_lived());
  f.run([&]() -> asio::awaitable<void> {
    punch::session_options o;
    o.broker = f.address;
    o.id = "alice";
    o.key = alice_key;
    o.lifetime = 600s;
    o.keepalive = 20ms;
    o.host_candidates = {lan};
    punch::session s(*f.udp, o);
    std::size_t refreshed = 0, failed = 0;
    asio::steady_timer event(co_await asio::this_coro::executor);
    s.on_event([&](const punch::session_event& e) {
      if (e.what == punch::session_event::kind::refreshed) ++refreshed;
      if (e.what == punch::session_event::kind::refresh_failed) ++failed;
      event.cancel();
    });
    // Waits for `n` more refreshes (or a failure), at most 5 s.
    const auto refreshes = [&](std::size_t n) -> asio::awaitable<void> {
      const std::size_t target = refreshed + n;
      const auto deadline = std::chrono::steady_clock::now() + 5s;
      while (refreshed < target && failed == 0 && std::chrono::steady_clock::now() < deadline) {
        event.expires_at(deadline);
        co_await event.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      BOOST_TEST_REQUIRE(refreshed >= target, "only " << refreshed << " refreshes");
    };

    co_await s.register_self();
    BOOST_TEST(f.broker.stats().signatures_verified == 1u);
    co_await refreshes(3);
    BOOST_TEST(f.broker.stats().refreshes >= 3u);
    BOOST_TEST(f.broker.stats().signatures_verified == 1u, "a keepalive refresh was signed");

    // Past the credential's lifetime (the registration itself lives on): one refresh is
    // refused, the session signs over the refusal's NONCE, and goes on with the new credential.
    f.skew += 301s;
    const auto before = f.broker.stats().refreshes;
    co_await refreshes(3);
    BOOST_TEST(f.broker.stats().signatures_verified == 2u);
    BOOST_TEST(f.broker.stats().refreshes >= before + 2);
    BOOST_TEST(failed == 0u);
    s.close();
  });
  // The first Register's 401, and the expired credential's 438.
  BOOST_TEST(f.broker.stats().challenges == 2u);
  BOOST_TEST(f.broker.stats().auth_failed == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()  // broker_session_refresh_test
