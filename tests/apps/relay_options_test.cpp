// punch-relay's command line and log text (ring: unit): defaults, every option's range, one
// message naming the option for each bad value, and the lines its events become.
#include "log.hpp"
#include "options.hpp"

#include <boost/test/unit_test.hpp>

#include <initializer_list>
#include <string>
#include <vector>

using namespace punch::relay_app;

namespace {

parse_result parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv{"punch-relay"};
  argv.insert(argv.end(), args.begin(), args.end());
  return parse_options(static_cast<int>(argv.size()), argv.data());
}

// The option fails with one line that names it.
void expect_error(std::initializer_list<const char*> args, const std::string& option) {
  const auto r = parse(args);
  BOOST_TEST((r.what == parse_result::action::error), option << " was accepted");
  BOOST_TEST(r.text.find(option) != std::string::npos, "'" << r.text << "' does not name " << option);
  BOOST_TEST(r.text.find('\n') == std::string::npos, "more than one line: " << r.text);
}

}  // namespace

BOOST_AUTO_TEST_CASE(defaults_match_the_relay_options) {
  const auto r = parse({});
  BOOST_TEST_REQUIRE((r.what == parse_result::action::run));
  BOOST_TEST(r.options.listen.port() == 3479);
  BOOST_TEST(r.options.transport == "udp");
  const auto relay = make_relay_options(r.options);
  const punch::relay_options defaults;
  BOOST_TEST(relay.max_allocations == defaults.max_allocations);
  BOOST_TEST(relay.lifetime.count() == defaults.lifetime.count());
  BOOST_TEST(relay.rate_limit == defaults.rate_limit);
  BOOST_TEST(relay.rate_burst == defaults.rate_burst);
  BOOST_TEST(transport_settings_for(r.options).at("batch") == "64");
}

BOOST_AUTO_TEST_CASE(every_option_is_read) {
  const auto r = parse({"--listen", "[::1]:5000", "--max-allocations", "7", "--lifetime", "30", "--rate-limit", "0",
                        "--rate-burst", "9", "--stats-interval", "5", "--quiet", "--transport", "sim"});
  BOOST_TEST_REQUIRE((r.what == parse_result::action::run), r.text);
  BOOST_TEST(r.options.listen.address().to_string() == "::1");
  BOOST_TEST(r.options.listen.port() == 5000);
  const auto relay = make_relay_options(r.options);
  BOOST_TEST(relay.max_allocations == 7u);
  BOOST_TEST(relay.lifetime.count() == 30);
  BOOST_TEST(relay.rate_limit == 0u);
  BOOST_TEST(relay.rate_burst == 9u);
  BOOST_TEST(r.options.stats_interval.count() == 5);
  BOOST_TEST(r.options.quiet);
  BOOST_TEST(r.options.transport == "sim");
  BOOST_TEST(transport_settings_for(r.options).count("batch") == 0u, "udp's defaults given to another transport");
}

BOOST_AUTO_TEST_CASE(bad_values_name_their_option) {
  expect_error({"--listen", "nowhere"}, "--listen");
  expect_error({"--listen", "1.2.3.4:70000"}, "--listen");
  expect_error({"--max-allocations", "0"}, "--max-allocations");
  expect_error({"--max-allocations", "many"}, "--max-allocations");
  expect_error({"--lifetime", "0"}, "--lifetime");
  expect_error({"--lifetime", "604801"}, "--lifetime");
  expect_error({"--rate-limit", "-5"}, "--rate-limit");
  expect_error({"--rate-burst", "100000001"}, "--rate-burst");
  expect_error({"--stats-interval", "x"}, "--stats-interval");
  expect_error({"--bogus"}, "--bogus");
}

BOOST_AUTO_TEST_CASE(help_lists_every_option_and_the_exit_codes) {
  const auto r = parse({"--help"});
  BOOST_TEST_REQUIRE((r.what == parse_result::action::help));
  for (const char* option : {"--listen", "--transport", "--transport-plugin", "--transport-option", "--max-allocations",
                             "--lifetime", "--rate-limit", "--rate-burst", "--stats-interval", "--quiet", "--version",
                             "Exit codes"})
    BOOST_TEST(r.text.find(option) != std::string::npos, "--help does not mention " << option);
}

BOOST_AUTO_TEST_CASE(events_become_lines_with_a_short_relay_id) {
  punch::relay_event e{.what = punch::relay_event::kind::paired, .id = {}, .a = {}, .b = {}};
  e.id[0] = std::byte{0x3f};
  e.id[1] = std::byte{0xa2};
  e.a = {boost::asio::ip::make_address("203.0.113.5"), 40000};
  e.b = {boost::asio::ip::make_address("198.51.100.7"), 50000};
  BOOST_TEST(event_text(e) == "paired 3fa2…: 203.0.113.5:40000 ↔ 198.51.100.7:50000");
  e.what = punch::relay_event::kind::allocated;
  BOOST_TEST(event_text(e) == "allocated 3fa2… for 203.0.113.5:40000");
  e.what = punch::relay_event::kind::expired;
  BOOST_TEST(event_text(e) == "expired 3fa2… (203.0.113.5:40000 ↔ 198.51.100.7:50000)");
  punch::relay_stats s;
  s.forwarded = 12;
  BOOST_TEST(stats_text(s, 3).find("allocations 3") == 0u);
  BOOST_TEST(stats_text(s, 3).find("forwarded 12") != std::string::npos);
}
