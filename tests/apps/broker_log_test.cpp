// punch-broker's log text: one readable sentence per registration, expiry and introduction.
#include "log.hpp"

#include <boost/test/unit_test.hpp>

using namespace punch::broker_app;
using kind = punch::broker_event::kind;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

punch::broker_event event(kind what) {
  punch::broker_event e{.what = what, .id = "alice", .target = "bob",
                        .address = {asio::ip::make_address("203.0.113.5"), 40000},
                        .lifetime = 60s, .token = {}};
  e.token[0] = std::byte{0x3f};
  e.token[1] = std::byte{0xa2};
  return e;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(broker_log)

BOOST_AUTO_TEST_CASE(each_event_reads_as_one_sentence) {
  BOOST_TEST(event_text(event(kind::registered)) == "registered alice at 203.0.113.5:40000 (lifetime 60 s)");
  BOOST_TEST(event_text(event(kind::introduced)) == "introduced alice → bob (token 3fa2…)");
  BOOST_TEST(event_text(event(kind::expired)) == "expired alice (was at 203.0.113.5:40000)");
  BOOST_TEST(event_text(event(kind::introduce_failed)) ==
             "introducing alice → bob failed: bob did not acknowledge (token 3fa2…)");
}

BOOST_AUTO_TEST_CASE(refreshes_are_not_logged_because_every_keepalive_makes_one) {
  BOOST_TEST(event_text(event(kind::refreshed)).empty());
}

BOOST_AUTO_TEST_CASE(the_counters_line_names_every_counter) {
  punch::broker_stats s;
  s.received = 11;
  s.malformed = 2;
  s.introductions_failed = 7;
  s.rate_limited = 13;
  s.challenges = 17;
  s.auth_failed = 19;
  s.refreshes = 23;
  s.signatures_verified = 29;
  s.batches = 3;
  const auto text = stats_text(s, 5);
  BOOST_TEST(text.find("refreshes 23") != std::string::npos);
  BOOST_TEST(text.find("signatures verified 29") != std::string::npos);
  BOOST_TEST(text.find("rate-limited 13") != std::string::npos);
  BOOST_TEST(text.find("challenges 17") != std::string::npos);
  BOOST_TEST(text.find("auth failed 19") != std::string::npos);
  BOOST_TEST(text.find("5 registered") != std::string::npos);
  BOOST_TEST(text.find("received 11 (in 3 batches)") != std::string::npos);
  BOOST_TEST(text.find("malformed 2") != std::string::npos);
  BOOST_TEST(text.find("failed 7") != std::string::npos);
  // A single broker says nothing of a shared registry.
  BOOST_TEST(text.find("shared registry") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_broker_of_a_cluster_logs_its_store_and_the_cluster_counters) {
  punch::broker_stats s;
  s.store = punch::cluster_state::down;
  s.store_downs = 1;
  s.claims = 31;
  s.claims_local = 2;
  s.remote_connects = 37;
  s.introductions_taken = 41;
  s.store_unavailable = 43;
  const auto text = stats_text(s, 5);
  BOOST_TEST(text.find("shared registry down (down 1 times)") != std::string::npos);
  BOOST_TEST(text.find("claims 31") != std::string::npos);
  BOOST_TEST(text.find("local only 2") != std::string::npos);
  BOOST_TEST(text.find("remote connects 37") != std::string::npos);
  BOOST_TEST(text.find("taken 41") != std::string::npos);
  BOOST_TEST(text.find("unavailable 43") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_store_changing_state_is_one_line) {
  BOOST_TEST(event_text(event(kind::store_down)) ==
             "shared registry down: serving this broker's own peers only (as alice)");
  BOOST_TEST(event_text(event(kind::store_up)) ==
             "shared registry up again: claiming this broker's registrations again (as alice)");
}

BOOST_AUTO_TEST_SUITE_END()
