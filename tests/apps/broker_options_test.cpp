// punch-broker's command line: defaults, every option, and one-line errors naming the option.
#include "options.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using namespace punch::broker_app;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

parse_result parse(std::vector<std::string> args) {
  args.insert(args.begin(), "punch-broker");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_options(static_cast<int>(argv.size()), argv.data());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(broker_options)

BOOST_AUTO_TEST_CASE(no_options_listen_on_port_3478_of_every_ipv4_address_over_udp) {
  auto r = parse({});
  BOOST_TEST_REQUIRE((r.what == parse_result::action::run), r.text);
  BOOST_TEST(r.options.listen == punch::endpoint(asio::ip::address_v4::any(), 3478));
  BOOST_TEST(r.options.transport == "udp");
  BOOST_TEST(r.options.stats_interval == 0s);
  BOOST_TEST(!r.options.quiet);
}

BOOST_AUTO_TEST_CASE(every_option_is_read) {
  auto r = parse({"--listen", "[::]:0", "--transport", "sim", "--transport-plugin", "/x/a.so",
                  "--transport-plugin", "/x/b.so", "--transport-option", "loss=0.1",
                  "--transport-option", "seed=7", "--max-peers", "5", "--lifetime-max", "30",
                  "--stats-interval", "10", "--rate-limit", "5", "--rate-burst", "0", "--quiet"});
  BOOST_TEST_REQUIRE((r.what == parse_result::action::run), r.text);
  const auto& o = r.options;
  BOOST_TEST(o.listen == punch::endpoint(asio::ip::address_v6::any(), 0));
  BOOST_TEST(o.transport == "sim");
  BOOST_TEST(o.transport_plugins.size() == 2u);
  BOOST_TEST(o.transport_settings.at("loss") == "0.1");
  BOOST_TEST(o.transport_settings.at("seed") == "7");
  BOOST_TEST(o.max_peers == 5u);
  BOOST_TEST(o.lifetime_max == 30s);
  BOOST_TEST(o.stats_interval == 10s);
  BOOST_TEST(o.rate_limit == 5u);
  BOOST_TEST(o.rate_burst == 0u);
  BOOST_TEST(o.quiet);
  const auto b = make_broker_options(o);
  BOOST_TEST(b.rate_limit == 5u);
  BOOST_TEST(b.rate_burst == 0u);
}

BOOST_AUTO_TEST_CASE(metrics_is_off_unless_given_and_takes_ipv4_and_bracketed_ipv6) {
  BOOST_TEST(!parse({}).options.metrics.has_value());
  auto v4 = parse({"--metrics", "127.0.0.1:0"});
  BOOST_TEST_REQUIRE((v4.what == parse_result::action::run), v4.text);
  BOOST_TEST((*v4.options.metrics == punch::endpoint(asio::ip::make_address("127.0.0.1"), 0)));
  auto v6 = parse({"--metrics", "[::1]:9100"});
  BOOST_TEST_REQUIRE((v6.what == parse_result::action::run), v6.text);
  BOOST_TEST((*v6.options.metrics == punch::endpoint(asio::ip::make_address("::1"), 9100)));
  for (const char* bad : {"localhost:9100", "::1:9100", "127.0.0.1", "127.0.0.1:70000"}) {
    auto r = parse({"--metrics", bad});
    BOOST_TEST((r.what == parse_result::action::error), bad);
    BOOST_TEST(r.text.starts_with("--metrics \"" + std::string(bad) + "\""), r.text);
  }
}

BOOST_AUTO_TEST_CASE(the_rate_limit_defaults_to_100_per_second_with_bursts_of_200) {
  const auto b = make_broker_options(parse({}).options);
  BOOST_TEST(b.rate_limit == 100u);
  BOOST_TEST(b.rate_burst == 200u);
  BOOST_TEST(b.rate_limit_table == 65536u);
}

BOOST_AUTO_TEST_CASE(the_second_port_for_nat_discovery_is_off_unless_given_and_not_the_listen_port) {
  BOOST_TEST(parse({}).options.other_port == 0);
  auto r = parse({"--other-port", "3480"});
  BOOST_TEST_REQUIRE((r.what == parse_result::action::run), r.text);
  BOOST_TEST(r.options.other_port == 3480);
  for (const char* bad : {"3478", "65536", "x", "-1"}) {
    auto e = parse({"--other-port", bad});
    BOOST_TEST((e.what == parse_result::action::error), bad);
    BOOST_TEST(e.text.find("--other-port") != std::string::npos, e.text);
  }
}

BOOST_AUTO_TEST_CASE(a_short_maximum_lifetime_pulls_the_minimum_and_default_down_with_it) {
  broker_app_options o;
  o.lifetime_max = 5s;
  const auto b = make_broker_options(o);
  BOOST_TEST(b.max_lifetime == 5s);
  BOOST_TEST(b.min_lifetime == 5s);
  BOOST_TEST(b.default_lifetime == 5s);
  o.lifetime_max = 600s;
  BOOST_TEST(make_broker_options(o).default_lifetime == 60s);
}

BOOST_AUTO_TEST_CASE(help_mentions_every_option_and_the_exit_codes) {
  auto r = parse({"--help"});
  BOOST_TEST_REQUIRE((r.what == parse_result::action::help));
  for (const char* name : {"--listen", "--transport", "--transport-plugin", "--transport-option",
                           "--max-peers", "--lifetime-max", "--stats-interval", "--rate-limit",
                           "--rate-burst", "--quiet", "--help", "--redis", "--name",
                           "--version", "Exit codes"})
    BOOST_TEST(r.text.find(name) != std::string::npos, name << " is not in --help");
  BOOST_TEST((parse({"--version"}).what == parse_result::action::version));
}

BOOST_AUTO_TEST_CASE(bad_values_give_one_line_naming_the_option) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--listen", "localhost:3478"}, "--listen"},
      {{"--listen", "0.0.0.0"}, "--listen"},
      {{"--listen", "::1:3478"}, "--listen"},
      {{"--listen", "[127.0.0.1]:3478"}, "--listen"},
      {{"--listen", "0.0.0.0:70000"}, "--listen"},
      {{"--transport", ""}, "--transport"},
      {{"--transport-option", "novalue"}, "--transport-option"},
      {{"--transport-option", "=x"}, "--transport-option"},
      {{"--max-peers", "0"}, "--max-peers"},
      {{"--max-peers", "-3"}, "--max-peers"},
      {{"--lifetime-max", "ten"}, "--lifetime-max"},
      {{"--lifetime-max", "0"}, "--lifetime-max"},
      {{"--stats-interval", "1.5"}, "--stats-interval"},
      {{"--rate-limit", "-1"}, "--rate-limit"},
      {{"--rate-limit", "fast"}, "--rate-limit"},
      {{"--rate-burst", "1e3"}, "--rate-burst"},
      {{"--bogus"}, "--bogus"},
      {{"--listen"}, "--listen"},
      {{"--redis", "http://localhost"}, "--redis"},
      {{"--redis", "redis://h:0"}, "--redis"},
      {{"--name", "east"}, "--name"},
  };
  for (const auto& [args, option] : cases) {
    BOOST_TEST_CONTEXT(args.front() << (args.size() > 1 ? " " + args.back() : std::string{})) {
      auto r = parse(args);
      BOOST_TEST((r.what == parse_result::action::error));
      BOOST_TEST(r.text.find(option) != std::string::npos, "\"" << r.text << "\" does not name " << option);
      BOOST_TEST(r.text.find('\n') == std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(redis_is_off_unless_given_and_its_url_is_checked_when_parsed) {
  BOOST_TEST(!parse({}).options.redis.has_value());
  auto bad = parse({"--redis", "redis://cache:70000"});
  BOOST_TEST((bad.what == parse_result::action::error));
  // The parser's own reason, after the option's name.
  BOOST_TEST(bad.text.find("--redis: redis URL \"redis://cache:70000\": port \"70000\"") == 0u, bad.text);
  if (!punch::redis_supported()) {
    auto r = parse({"--redis", "redis://cache"});
    BOOST_TEST(r.text.find("without Redis support") != std::string::npos, r.text);
    return;
  }
  auto r = parse({"--redis", "redis+unix://:pw@/run/redis.sock?db=2", "--name", "east-1"});
  BOOST_TEST_REQUIRE((r.what == parse_result::action::run), r.text);
  BOOST_TEST_REQUIRE(r.options.redis.has_value());
  BOOST_TEST(r.options.redis->path == "/run/redis.sock");
  BOOST_TEST(r.options.redis->db == 2u);
  BOOST_TEST(r.options.redis->password == "pw");
  BOOST_TEST(cluster_name_for(r.options, 3478) == "east-1");
}

BOOST_AUTO_TEST_CASE(the_cluster_name_defaults_to_host_and_port) {
  auto r = parse({"--redis", "redis://cache"});
  if (!punch::redis_supported()) return;
  BOOST_TEST_REQUIRE((r.what == parse_result::action::run), r.text);
  const auto name = cluster_name_for(r.options, 40000);
  BOOST_TEST(name.size() > std::string(":40000").size());
  BOOST_TEST(name.substr(name.size() - 6) == ":40000");
}

BOOST_AUTO_TEST_CASE(redis_with_several_threads_is_refused_with_the_reason) {
  auto r = parse({"--redis", "redis://cache", "--threads", "4"});
  BOOST_TEST((r.what == parse_result::action::error));
  if (punch::redis_supported()) BOOST_TEST(r.text.find("--redis: one thread only") == 0u, r.text);
}

BOOST_AUTO_TEST_CASE(the_udp_transport_gets_the_fast_path_unless_options_say_otherwise) {
  auto udp = parse({});
  auto t = punch::broker_app::transport_settings_for(udp.options);
  BOOST_TEST(t.at("batch") == "64");
  BOOST_TEST(t.at("receive-buffer") == "4194304");
  auto plain = parse({"--transport-option", "batch=1"});
  BOOST_TEST(punch::broker_app::transport_settings_for(plain.options).at("batch") == "1");
  auto sim = parse({"--transport", "sim"});
  BOOST_TEST(punch::broker_app::transport_settings_for(sim.options).empty());
}

BOOST_AUTO_TEST_SUITE_END()
