// punch-peer's option parsing: what is required, what is checked, what --help says.
#include "options.hpp"

#include "punch/stream.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <initializer_list>
#include <string>
#include <vector>

using namespace punch::peer_app;
using punch::path_mode;
using action = parse_result::action;

namespace {

parse_result parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv{"punch-peer"};
  argv.insert(argv.end(), args);
  return parse_options(static_cast<int>(argv.size()), argv.data());
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Without --key the default path needs $HOME: give every case one, even where the test
// runner has none.
struct with_home {
  bool had_home = std::getenv("HOME") != nullptr;
  with_home() {
    if (!had_home) ::setenv("HOME", "/nonexistent/home", 1);
  }
  ~with_home() {
    if (!had_home) ::unsetenv("HOME");
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(peer_options, with_home)

BOOST_AUTO_TEST_CASE(broker_and_id_are_enough_and_the_rest_has_defaults) {
  auto r = parse({"--broker", "127.0.0.1:3478", "--id", "alice"});
  BOOST_TEST_REQUIRE(static_cast<int>(r.what) == static_cast<int>(action::run), r.text);
  BOOST_TEST(r.options.broker.host == "127.0.0.1");
  BOOST_TEST(r.options.broker.port == 3478);
  BOOST_TEST(r.options.id == "alice");
  BOOST_TEST(!r.options.connect.has_value());
  BOOST_TEST(r.options.transport == "udp");
  BOOST_TEST(r.options.bind.address().to_string() == "::");  // dual-stack
  BOOST_TEST(r.options.bind.port() == 0);
  BOOST_TEST(!r.options.bind_given);
  BOOST_TEST(r.options.timeout.count() == 30000);
  BOOST_TEST(!r.options.events);
  BOOST_TEST(r.options.key.filename() == "alice.key");
  BOOST_TEST(!r.options.expect_key.has_value());
}

BOOST_AUTO_TEST_CASE(every_option_is_taken_as_given) {
  auto r = parse({"--broker", "[::1]:9", "--id", "a.b_c@d-e", "--connect", "bob", "--transport",
                  "sim", "--transport-plugin", "/x/a.so", "--transport-plugin", "b.so",
                  "--transport-option", "k=v=w", "--transport-option", "empty=", "--bind",
                  "[::]:4000", "--timeout", "1.5", "--events"});
  BOOST_TEST_REQUIRE(static_cast<int>(r.what) == static_cast<int>(action::run), r.text);
  const auto& o = r.options;
  BOOST_TEST(o.broker.host == "::1");
  BOOST_TEST(o.broker.port == 9);
  BOOST_TEST(o.connect.value_or("") == "bob");
  BOOST_TEST(o.transport == "sim");
  BOOST_TEST_REQUIRE(o.transport_plugins.size() == 2u);
  BOOST_TEST(o.transport_plugins[1].string() == "b.so");
  BOOST_TEST(o.transport_settings.at("k") == "v=w");  // the first '=' splits
  BOOST_TEST(o.transport_settings.at("empty") == "");
  BOOST_TEST(o.bind.address().is_v6());
  BOOST_TEST(o.bind.port() == 4000);
  BOOST_TEST(o.bind_given);
  BOOST_TEST(o.timeout.count() == 1500);
  BOOST_TEST(o.events);
}

// --stream where punch has streams; where it was built without them, refused at start-up
// with the reason (else the peer would connect, then fail, and leave its peer waiting).
BOOST_AUTO_TEST_CASE(stream_is_taken_where_punch_has_streams_and_refused_with_the_reason_where_not) {
  auto r = parse({"--broker", "127.0.0.1:3478", "--id", "alice", "--stream"});
  if (punch::streams_available()) {
    BOOST_TEST_REQUIRE(static_cast<int>(r.what) == static_cast<int>(action::run), r.text);
    BOOST_TEST(r.options.stream);
  } else {
    BOOST_TEST(static_cast<int>(r.what) == static_cast<int>(action::error));
    BOOST_TEST(contains(r.text, "--stream: this punch was built without streams"), r.text);
  }
}

BOOST_AUTO_TEST_CASE(a_dual_stack_brokers_two_addresses_go_in_one_broker_option) {
  auto r = parse({"--broker", "203.0.113.10:3478,[2001:db8::10]:3479", "--id", "alice"});
  BOOST_REQUIRE(r.what == parse_result::action::run);
  BOOST_TEST(r.options.broker.host == "203.0.113.10");
  BOOST_REQUIRE(r.options.broker_other);
  BOOST_TEST(r.options.broker_other->host == "2001:db8::10");
  BOOST_TEST(r.options.broker_other->port == 3479);
  for (const char* bad : {"1.2.3.4:1,", "1.2.3.4:1,[::1]:2,[::2]:3", ",1.2.3.4:1"}) {
    auto e = parse({"--broker", bad, "--id", "alice"});
    BOOST_TEST((e.what == parse_result::action::error), bad);
    BOOST_TEST(contains(e.text, "--broker"), e.text);
  }
}

BOOST_AUTO_TEST_CASE(a_repeated_broker_adds_fallbacks_in_order_each_with_its_other_family) {
  auto r = parse({"--broker", "192.0.2.1:3478", "--broker", "192.0.2.2:3479,[2001:db8::2]:3479", "--broker",
                  "b3.example.org:3478", "--id", "alice", "--keepalive", "1.5"});
  BOOST_TEST_REQUIRE(static_cast<int>(r.what) == static_cast<int>(parse_result::action::run), r.text);
  BOOST_TEST(r.options.broker.host == "192.0.2.1");
  BOOST_TEST(!r.options.broker_other);
  BOOST_REQUIRE_EQUAL(r.options.fallback_brokers.size(), 2u);
  BOOST_TEST(r.options.fallback_brokers[0].main.host == "192.0.2.2");
  BOOST_TEST(r.options.fallback_brokers[0].main.port == 3479);
  BOOST_REQUIRE(r.options.fallback_brokers[0].other);
  BOOST_TEST(r.options.fallback_brokers[0].other->host == "2001:db8::2");
  BOOST_TEST(r.options.fallback_brokers[1].main.host == "b3.example.org");
  BOOST_TEST(!r.options.fallback_brokers[1].other);
  BOOST_TEST(r.options.keepalive.count() == 1500);
  // One broker: no fallbacks, the keepalive's default.
  auto one = parse({"--broker", "192.0.2.1:3478", "--id", "alice"});
  BOOST_TEST(one.options.fallback_brokers.empty());
  BOOST_TEST(one.options.keepalive.count() == 15000);
  // A bad second --broker is named like a bad first one.
  auto bad = parse({"--broker", "192.0.2.1:3478", "--broker", "192.0.2.2", "--id", "alice"});
  BOOST_TEST(static_cast<int>(bad.what) == static_cast<int>(parse_result::action::error));
  BOOST_TEST(contains(bad.text, "--broker \"192.0.2.2\""), bad.text);
  for (const char* ka : {"0", "-1", "x"}) {
    auto e = parse({"--broker", "192.0.2.1:3478", "--id", "alice", "--keepalive", ka});
    BOOST_TEST(static_cast<int>(e.what) == static_cast<int>(parse_result::action::error));
    BOOST_TEST(contains(e.text, "--keepalive"), e.text);
  }
}

BOOST_AUTO_TEST_CASE(a_broker_host_may_be_a_name) {
  auto r = parse({"--broker", "broker.example.org:3478", "--id", "alice"});
  BOOST_TEST_REQUIRE(static_cast<int>(r.what) == static_cast<int>(action::run), r.text);
  BOOST_TEST(r.options.broker.host == "broker.example.org");
}

BOOST_AUTO_TEST_CASE(a_missing_broker_is_an_error_naming_broker) {
  auto r = parse({"--id", "alice"});
  BOOST_TEST(static_cast<int>(r.what) == static_cast<int>(action::error));
  BOOST_TEST(contains(r.text, "--broker"), r.text);
}

BOOST_AUTO_TEST_CASE(a_missing_id_is_an_error_naming_id) {
  auto r = parse({"--broker", "127.0.0.1:3478"});
  BOOST_TEST(static_cast<int>(r.what) == static_cast<int>(action::error));
  BOOST_TEST(contains(r.text, "--id"), r.text);
}

BOOST_AUTO_TEST_CASE(bad_broker_endpoints_are_errors_naming_broker) {
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", ":3478", "127.0.0.1:65536", "127.0.0.1:x",
                          "::1:3478", "[::1]3478", "[::1", "127.0.0.1:0", "[]:1"}) {
    auto r = parse({"--broker", bad, "--id", "alice"});
    BOOST_TEST(static_cast<int>(r.what) == static_cast<int>(action::error), bad);
    BOOST_TEST(contains(r.text, "--broker"), r.text);
  }
}

BOOST_AUTO_TEST_CASE(a_bind_address_must_be_numeric) {
  auto r = parse({"--broker", "127.0.0.1:1", "--id", "a", "--bind", "localhost:0"});
  BOOST_TEST(static_cast<int>(r.what) == static_cast<int>(action::error));
  BOOST_TEST(contains(r.text, "--bind"), r.text);
}

BOOST_AUTO_TEST_CASE(bad_ids_are_errors_naming_the_option_and_the_id) {
  std::string too_long(65, 'x');
  for (const char* bad : {"", "al ice", "al\"ice", "ålice", "a/b", too_long.c_str()}) {
    auto r = parse({"--broker", "127.0.0.1:1", "--id", bad});
    BOOST_TEST(static_cast<int>(r.what) == static_cast<int>(action::error), bad);
    BOOST_TEST(contains(r.text, "--id \"" + std::string{bad} + "\""), r.text);
  }
  auto r = parse({"--broker", "127.0.0.1:1", "--id", "a", "--connect", "b c"});
  BOOST_TEST(static_cast<int>(r.what) == static_cast<int>(action::error));
  BOOST_TEST(contains(r.text, "--connect"), r.text);
}

BOOST_AUTO_TEST_CASE(an_id_of_64_characters_is_accepted) {
  std::string longest(64, 'x');
  BOOST_TEST(is_valid_peer_id(longest));
  BOOST_TEST(!is_valid_peer_id(longest + "x"));
}

BOOST_AUTO_TEST_CASE(connecting_to_ourselves_is_an_error) {
  auto r = parse({"--broker", "127.0.0.1:1", "--id", "alice", "--connect", "alice"});
  BOOST_TEST(static_cast<int>(r.what) == static_cast<int>(action::error));
  BOOST_TEST(contains(r.text, "--connect"), r.text);
}

BOOST_AUTO_TEST_CASE(bad_timeouts_are_errors_naming_timeout) {
  for (const char* bad : {"0", "-1", "abc", "1s", "nan", "inf", "86401", ""}) {
    auto r = parse({"--broker", "127.0.0.1:1", "--id", "a", "--timeout", bad});
    BOOST_TEST(static_cast<int>(r.what) == static_cast<int>(action::error), bad);
    BOOST_TEST(contains(r.text, "--timeout"), r.text);
  }
}

BOOST_AUTO_TEST_CASE(a_transport_option_needs_a_key_and_an_equals_sign) {
  for (const char* bad : {"novalue", "=v"}) {
    auto r = parse({"--broker", "127.0.0.1:1", "--id", "a", "--transport-option", bad});
    BOOST_TEST(static_cast<int>(r.what) == static_cast<int>(action::error), bad);
    BOOST_TEST(contains(r.text, "--transport-option"), r.text);
  }
}

BOOST_AUTO_TEST_CASE(an_unknown_option_is_an_error_naming_it) {
  auto r = parse({"--broker", "127.0.0.1:1", "--id", "a", "--frobnicate"});
  BOOST_TEST(static_cast<int>(r.what) == static_cast<int>(action::error));
  BOOST_TEST(contains(r.text, "frobnicate"), r.text);
}

BOOST_AUTO_TEST_CASE(the_key_file_is_taken_as_given) {
  auto r = parse({"--broker", "127.0.0.1:1", "--id", "alice", "--key", "/srv/keys/alice.key"});
  BOOST_TEST_REQUIRE(static_cast<int>(r.what) == static_cast<int>(action::run), r.text);
  BOOST_TEST(r.options.key.string() == "/srv/keys/alice.key");
  r = parse({"--broker", "127.0.0.1:1", "--id", "alice", "--key", ""});
  BOOST_TEST(static_cast<int>(r.what) == static_cast<int>(action::error));
  BOOST_TEST(contains(r.text, "--key"), r.text);
}

BOOST_AUTO_TEST_CASE(the_default_key_file_is_under_the_xdg_config_directory_named_by_id) {
  BOOST_TEST(default_key_path("alice", "/cfg", "/home/a").value_or("").string() ==
             "/cfg/punch/alice.key");
  BOOST_TEST(default_key_path("alice", nullptr, "/home/a").value_or("").string() ==
             "/home/a/.config/punch/alice.key");
  // Empty or relative XDG_CONFIG_HOME values are ignored (XDG base directory spec).
  BOOST_TEST(default_key_path("bob", "", "/home/b").value_or("").string() ==
             "/home/b/.config/punch/bob.key");
  BOOST_TEST(default_key_path("bob", "cfg", "/home/b").value_or("").string() ==
             "/home/b/.config/punch/bob.key");
  BOOST_TEST(!default_key_path("bob", nullptr, nullptr).has_value());
  BOOST_TEST(!default_key_path("bob", "cfg", "").has_value());
}

BOOST_AUTO_TEST_CASE(without_key_the_parser_uses_the_default_and_needs_a_home) {
  const char* home = std::getenv("HOME");
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  const std::string saved_home = home ? home : "", saved_xdg = xdg ? xdg : "";
  ::setenv("HOME", "/home/tester", 1);
  ::unsetenv("XDG_CONFIG_HOME");
  auto r = parse({"--broker", "127.0.0.1:1", "--id", "alice"});
  BOOST_TEST(r.options.key.string() == "/home/tester/.config/punch/alice.key");
  ::unsetenv("HOME");
  auto homeless = parse({"--broker", "127.0.0.1:1", "--id", "alice"});
  BOOST_TEST(static_cast<int>(homeless.what) == static_cast<int>(action::error));
  BOOST_TEST(contains(homeless.text, "--key"), homeless.text);
  if (home) ::setenv("HOME", saved_home.c_str(), 1);
  if (xdg) ::setenv("XDG_CONFIG_HOME", saved_xdg.c_str(), 1);
}

BOOST_AUTO_TEST_CASE(an_expected_key_is_parsed_and_needs_connect) {
  const char* key = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";  // RFC 8032 TEST 1
  auto r = parse({"--broker", "127.0.0.1:1", "--id", "a", "--connect", "b", "--expect-key", key});
  BOOST_TEST_REQUIRE(static_cast<int>(r.what) == static_cast<int>(action::run), r.text);
  BOOST_TEST_REQUIRE(r.options.expect_key.has_value());
  BOOST_TEST(punch::to_string(*r.options.expect_key) == key);
  BOOST_TEST(!parse({"--broker", "127.0.0.1:1", "--id", "a", "--connect", "b"})
                  .options.expect_key.has_value());

  r = parse({"--broker", "127.0.0.1:1", "--id", "a", "--expect-key", key});
  BOOST_TEST(static_cast<int>(r.what) == static_cast<int>(action::error));
  BOOST_TEST(contains(r.text, "--expect-key needs --connect"), r.text);
}

BOOST_AUTO_TEST_CASE(a_malformed_expected_key_is_an_error_naming_the_option) {
  for (const char* bad : {"", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUR",
                          "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
                          "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                          "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"}) {
    auto r = parse({"--broker", "127.0.0.1:1", "--id", "a", "--connect", "b", "--expect-key", bad});
    BOOST_TEST(static_cast<int>(r.what) == static_cast<int>(action::error), bad);
    BOOST_TEST(contains(r.text, "--expect-key \"" + std::string{bad} + "\""), r.text);
  }
}

BOOST_AUTO_TEST_CASE(help_needs_no_other_option_and_documents_the_exit_codes) {
  auto r = parse({"--help"});
  BOOST_TEST(static_cast<int>(r.what) == static_cast<int>(action::help));
  for (const char* part : {"--broker", "--id", "--connect", "--key", "--expect-key", "--transport",
                           "--transport-plugin", "--transport-option", "--bind", "--timeout",
                           "--events", "registered {id, key,", "connected {peer, key,",
                           "Exit codes", "  0  ", "  1  ", "  2  ",
                           // Several brokers: repeatable, tried in order, and how the change shows.
                           "[--broker HOST:PORT ...]", "Repeatable:", "tried in order", "--keepalive",
                           "broker_changed {broker, silent_ms, ms}"})
    BOOST_TEST(contains(r.text, part), part);
}

BOOST_AUTO_TEST_CASE(version_prints_the_program_name_and_version) {
  auto r = parse({"--version"});
  BOOST_TEST(static_cast<int>(r.what) == static_cast<int>(action::version));
  BOOST_TEST(r.text.starts_with("punch-peer "), r.text);
}

BOOST_AUTO_TEST_CASE(timeouts_are_written_in_seconds) {
  BOOST_TEST(format_seconds(std::chrono::milliseconds{2000}) == "2 s");
  BOOST_TEST(format_seconds(std::chrono::milliseconds{1500}) == "1.5 s");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(a_relay_is_taken_as_given_and_bad_ones_are_errors_naming_relay) {
  auto r = parse({"--broker", "127.0.0.1:1", "--id", "a", "--relay", "[::1]:3479"});
  BOOST_REQUIRE(r.what == parse_result::action::run);
  BOOST_REQUIRE(r.options.relay);
  BOOST_CHECK_EQUAL(r.options.relay->host, "::1");
  BOOST_CHECK_EQUAL(r.options.relay->port, 3479);
  BOOST_CHECK(!parse({"--broker", "127.0.0.1:1", "--id", "a"}).options.relay);
  for (const char* bad : {"nope", "127.0.0.1:0", "127.0.0.1:99999"}) {
    BOOST_TEST_CONTEXT(bad) {
      auto e = parse({"--broker", "127.0.0.1:1", "--id", "a", "--relay", bad});
      BOOST_CHECK(e.what == parse_result::action::error);
      BOOST_CHECK_MESSAGE(e.text.find("--relay") != std::string::npos, e.text);
    }
  }
}

BOOST_AUTO_TEST_CASE(port_mapping_is_on_unless_no_port_mapping_is_given_and_help_says_so) {
  BOOST_CHECK(parse({"--broker", "127.0.0.1:1", "--id", "a"}).options.port_mapping);
  auto r = parse({"--broker", "127.0.0.1:1", "--id", "a", "--no-port-mapping"});
  BOOST_REQUIRE(r.what == parse_result::action::run);
  BOOST_CHECK(!r.options.port_mapping);
  BOOST_CHECK(r.options.port_prediction);  // the one switch, not the other
  auto h = parse({"--help"});
  BOOST_CHECK(h.text.find("--no-port-mapping") != std::string::npos);
  BOOST_CHECK(h.text.find("port_mapped {external, protocol") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_path_policy_is_any_unless_path_names_another_and_bad_ones_are_errors_naming_path) {
  BOOST_CHECK(parse({"--broker", "127.0.0.1:1", "--id", "a"}).options.path == path_mode::any);
  const std::pair<const char*, path_mode> given[] = {{"any", path_mode::any}, {"direct", path_mode::direct_only},
                                                     {"relay", path_mode::relay_only}, {"adaptive", path_mode::adaptive}};
  for (const auto& [text, mode] : given) {
    BOOST_TEST_CONTEXT(text) {
      auto r = parse({"--broker", "127.0.0.1:1", "--id", "a", "--relay", "127.0.0.1:3479", "--path", text});
      BOOST_REQUIRE(r.what == parse_result::action::run);
      BOOST_CHECK(r.options.path == mode);
    }
  }
  for (const char* bad : {"sideways", "", "direct_only", "RELAY"}) {
    BOOST_TEST_CONTEXT(bad) {
      auto e = parse({"--broker", "127.0.0.1:1", "--id", "a", "--path", bad});
      BOOST_CHECK(e.what == parse_result::action::error);
      BOOST_CHECK_MESSAGE(contains(e.text, "--path") && contains(e.text, "any, direct, relay or adaptive"), e.text);
    }
  }
  // Only through a relay, or switching to one: there must be one.
  for (const char* needs_relay : {"relay", "adaptive"}) {
    auto e = parse({"--broker", "127.0.0.1:1", "--id", "a", "--path", needs_relay});
    BOOST_CHECK(e.what == parse_result::action::error);
    BOOST_CHECK_MESSAGE(contains(e.text, "needs --relay or --turn"), e.text);
  }
  BOOST_CHECK(contains(parse({"--help"}).text, "--path"));
}

BOOST_AUTO_TEST_CASE(port_prediction_is_on_unless_no_port_prediction_is_given) {
  BOOST_CHECK(parse({"--broker", "127.0.0.1:1", "--id", "a"}).options.port_prediction);
  auto r = parse({"--broker", "127.0.0.1:1", "--id", "a", "--no-port-prediction"});
  BOOST_REQUIRE(r.what == parse_result::action::run);
  BOOST_CHECK(!r.options.port_prediction);
}

BOOST_AUTO_TEST_CASE(turn_servers_are_repeatable_and_take_a_password_or_a_secret) {
  auto r = parse({"--broker", "127.0.0.1:1", "--id", "a", "--turn", "turn:127.0.0.1:3478", "--turn", "turn:[::1]:3479",
                  "--turn-user", "alice", "--turn-password", "pw"});
  BOOST_REQUIRE(r.what == parse_result::action::run);
  BOOST_REQUIRE_EQUAL(r.options.turn.size(), 2u);
  BOOST_CHECK_EQUAL(r.options.turn[0].host, "127.0.0.1");
  BOOST_CHECK_EQUAL(r.options.turn[1].host, "::1");
  BOOST_CHECK_EQUAL(r.options.turn[1].port, 3479);
  BOOST_CHECK_EQUAL(r.options.turn_user, "alice");
  BOOST_CHECK_EQUAL(r.options.turn_password, "pw");
  BOOST_CHECK(!r.options.turn_secret);
  auto s = parse({"--broker", "127.0.0.1:1", "--id", "a", "--turn", "turn:turn.example:3478", "--turn-secret", "s3"});
  BOOST_REQUIRE(s.what == parse_result::action::run);
  BOOST_REQUIRE(s.options.turn_secret);
  BOOST_CHECK_EQUAL(*s.options.turn_secret, "s3");
  BOOST_CHECK(parse({"--broker", "127.0.0.1:1", "--id", "a"}).options.turn.empty());
}

BOOST_AUTO_TEST_CASE(bad_turn_options_are_errors_naming_the_option) {
  const std::vector<std::pair<std::vector<const char*>, std::string>> cases{
      {{"--turn", "127.0.0.1:3478", "--turn-secret", "s"}, "turn:HOST:PORT"},
      {{"--turn", "turn:127.0.0.1:0", "--turn-secret", "s"}, "--turn"},
      {{"--turn", "turn:nope", "--turn-secret", "s"}, "--turn"},
      {{"--turn", "turn:127.0.0.1:3478"}, "--turn-user and --turn-password, or --turn-secret"},
      {{"--turn", "turn:127.0.0.1:3478", "--turn-user", "a"}, "--turn-password"},
      {{"--turn", "turn:127.0.0.1:3478", "--turn-secret", "s", "--turn-password", "p"}, "give one"},
      {{"--turn", "turn:127.0.0.1:3478", "--turn-secret", ""}, "--turn-secret"},
      {{"--turn-user", "a", "--turn-password", "p"}, "need --turn"},
  };
  for (const auto& [extra, words] : cases) {
    std::vector<const char*> args{"punch-peer", "--broker", "127.0.0.1:1", "--id", "a"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto e = parse_options(static_cast<int>(args.size()), args.data());
    BOOST_TEST_CONTEXT(words) {
      BOOST_CHECK(e.what == parse_result::action::error);
      BOOST_CHECK_MESSAGE(e.text.find(words) != std::string::npos, e.text);
    }
  }
}

BOOST_AUTO_TEST_CASE(help_documents_the_turn_options) {
  const auto text = parse({"--help"}).text;
  for (const char* o : {"--turn turn:HOST:PORT", "--turn-user", "--turn-password", "--turn-secret", "turn_allocated"})
    BOOST_CHECK_MESSAGE(text.find(o) != std::string::npos, o);
}
