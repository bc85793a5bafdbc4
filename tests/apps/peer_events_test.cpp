// punch-peer's --events writer: one well-formed JSON object per line, strings escaped.
#include "events.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

using namespace punch::peer_app;

namespace {

// Captures what an event_log writes, through a memory-backed FILE*.
struct captured {
  char* data = nullptr;
  std::size_t size = 0;
  std::FILE* file = open_memstream(&data, &size);
  ~captured() {
    if (file) std::fclose(file);
    std::free(data);
  }
  std::string text() {
    std::fflush(file);
    return {data, size};
  }
};

const auto long_ago = std::chrono::steady_clock::now() - std::chrono::milliseconds{42};

}  // namespace

BOOST_AUTO_TEST_SUITE(peer_events)

BOOST_AUTO_TEST_CASE(quotes_backslashes_and_control_characters_are_escaped) {
  BOOST_TEST(json_escape("plain text") == "plain text");
  BOOST_TEST(json_escape("say \"hi\"") == "say \\\"hi\\\"");
  BOOST_TEST(json_escape("C:\\dir") == "C:\\\\dir");
  BOOST_TEST(json_escape("a\nb\tc\rd") == "a\\nb\\tc\\rd");
  BOOST_TEST(json_escape(std::string{"\x01\x1f", 2}) == "\\u0001\\u001f");
  BOOST_TEST(json_escape(std::string{"\0", 1}) == "\\u0000");
  BOOST_TEST(json_escape("caf\xc3\xa9") == "caf\xc3\xa9");  // UTF-8 passes through
}

BOOST_AUTO_TEST_CASE(endpoints_are_written_with_brackets_for_ipv6) {
  using punch::endpoint;
  namespace ip = boost::asio::ip;
  BOOST_TEST(to_text(endpoint{ip::make_address("203.0.113.5"), 40000}) == "203.0.113.5:40000");
  BOOST_TEST(to_text(endpoint{ip::make_address("2001:db8::1"), 7}) == "[2001:db8::1]:7");
}

// The --events schema uses these names: changing one breaks the app's contract.
BOOST_AUTO_TEST_CASE(path_kinds_have_the_documented_names) {
  BOOST_TEST(std::string{punch::to_string(punch::path_kind::host)} == "host");
  BOOST_TEST(std::string{punch::to_string(punch::path_kind::reflexive)} == "reflexive");
  BOOST_TEST(std::string{punch::to_string(punch::path_kind::peer_reflexive)} == "peer-reflexive");
  BOOST_TEST(std::string{punch::to_string(punch::path_kind::predicted)} == "predicted");
  BOOST_TEST(std::string{punch::to_string(punch::path_kind::relay)} == "relay");
}

BOOST_AUTO_TEST_CASE(each_event_is_one_json_line_with_its_fields) {
  captured out;
  event_log log{true, long_ago, out.file};
  namespace ip = boost::asio::ip;
  // RFC 8032 §7.1 TEST 1 and TEST 2 public keys, in their text form.
  const auto alice_key = punch::parse_public_key("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
  const auto bob_key = punch::parse_public_key("PUAXw-hDiVqStwqnTRt-vJyYLM8uxJaMwM1V8Sr0Zgw");
  BOOST_TEST_REQUIRE((alice_key && bob_key));
  log.registered("alice", *alice_key, {ip::make_address("203.0.113.5"), 40000}, punch::nat_mapping::endpoint_dependent);
  log.connected("bob", *bob_key, {ip::make_address("198.51.100.7"), 1234},
                punch::path_kind::peer_reflexive);
  log.closed("bob", "remote");
  log.error("peer \"bob\" is not registered");
  auto text = out.text();
  BOOST_TEST(text.starts_with("{\"event\":\"registered\",\"id\":\"alice\","
                              "\"key\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\","
                              "\"reflexive\":\"203.0.113.5:40000\",\"nat\":\"hard\",\"ms\":"), text);
  BOOST_TEST(text.find("\n{\"event\":\"connected\",\"peer\":\"bob\","
                       "\"key\":\"PUAXw-hDiVqStwqnTRt-vJyYLM8uxJaMwM1V8Sr0Zgw\",\"remote\":"
                       "\"198.51.100.7:1234\",\"path\":\"peer-reflexive\",\"ms\":") !=
                 std::string::npos, text);
  BOOST_TEST(text.find("{\"event\":\"closed\",\"peer\":\"bob\",\"reason\":\"remote\"") !=
                 std::string::npos, text);
  BOOST_TEST(text.find("{\"event\":\"error\",\"message\":\"peer \\\"bob\\\" is not registered\"") !=
                 std::string::npos, text);
  // "ms" counts from the start given to the log, which was at least 42 ms ago.
  auto ms_at = text.find("\"ms\":") + 5;
  BOOST_TEST(std::stol(text.substr(ms_at)) >= 42);
  std::size_t lines = 0;
  for (char c : text) lines += c == '\n';
  BOOST_TEST(lines == 4u);
  BOOST_TEST(text.back() == '\n');
}

BOOST_AUTO_TEST_CASE(a_dual_stack_registration_shows_the_other_familys_address_and_path_events_their_names) {
  captured out;
  event_log log{true, long_ago, out.file};
  namespace ip = boost::asio::ip;
  log.registered("alice", {}, {ip::make_address("203.0.113.5"), 40000}, punch::nat_mapping::endpoint_independent,
                 punch::endpoint{ip::make_address("2001:db8::5"), 40000});
  punch::session_event lost;
  lost.what = punch::session_event::kind::path_lost;
  lost.peer = "bob";
  lost.address = {ip::make_address("198.51.100.7"), 1234};
  lost.path = punch::path_kind::reflexive;
  log.from_session(lost);
  auto text = out.text();
  BOOST_TEST(text.find("\"reflexive\":\"203.0.113.5:40000\",\"reflexive_other\":\"[2001:db8::5]:40000\",\"nat\":\"easy\"") !=
                 std::string::npos, text);
  BOOST_TEST(text.find("\n{\"event\":\"path_lost\",\"peer\":\"bob\",\"remote\":\"198.51.100.7:1234\",\"path\":\"reflexive\",\"ms\":") !=
                 std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(a_change_of_broker_is_one_line_naming_the_new_broker_and_how_long_the_old_was_silent) {
  captured out;
  event_log log{true, long_ago, out.file};
  namespace ip = boost::asio::ip;
  log.registered("bob", {}, {ip::make_address("203.0.113.5"), 40000}, punch::nat_mapping::unknown, std::nullopt,
                 punch::endpoint{ip::make_address("192.0.2.1"), 3478});
  punch::session_event changed;
  changed.what = punch::session_event::kind::broker_changed;
  changed.peer = "bob";
  changed.address = {ip::make_address("192.0.2.2"), 3478};
  changed.elapsed = std::chrono::milliseconds(2150);
  log.from_session(changed);
  auto text = out.text();
  BOOST_TEST(text.find("\"nat\":\"unknown\",\"broker\":\"192.0.2.1:3478\",\"ms\":") != std::string::npos, text);
  BOOST_TEST(text.find("\n{\"event\":\"broker_changed\",\"broker\":\"192.0.2.2:3478\",\"silent_ms\":2150,\"ms\":") !=
                 std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(what_the_gateway_granted_or_that_none_did_is_an_event) {
  captured out;
  event_log log{true, long_ago, out.file};
  namespace ip = boost::asio::ip;
  punch::session_event granted;
  granted.what = punch::session_event::kind::port_mapped;
  granted.address = {ip::make_address("198.51.100.7"), 40123};
  granted.detail = "pcp";
  granted.lifetime = std::chrono::seconds(7200);
  log.from_session(granted);
  punch::session_event none;
  none.what = punch::session_event::kind::port_mapped;
  none.error = punch::make_error_code(punch::errc::port_mapping_unanswered);
  none.detail = "PCP MAP of port 5000 at 192.168.1.1: no answer";
  log.from_session(none);
  auto text = out.text();
  BOOST_TEST(text.starts_with("{\"event\":\"port_mapped\",\"external\":\"198.51.100.7:40123\",\"protocol\":\"pcp\","
                              "\"lifetime_s\":7200,\"ms\":"), text);
  BOOST_TEST(text.find("\n{\"event\":\"port_mapped\",\"error\":\"the gateway did not answer PCP, NAT-PMP or UPnP in time\","
                       "\"tried\":\"PCP MAP of port 5000 at 192.168.1.1: no answer\",\"ms\":") != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(session_introductions_are_forwarded_and_its_connected_events_are_not) {
  captured out;
  event_log log{true, long_ago, out.file};
  punch::session_event introduced{};
  introduced.what = punch::session_event::kind::introduced;
  introduced.peer = "alice";
  log.from_session(introduced);
  punch::session_event connected{};
  connected.what = punch::session_event::kind::connected;
  connected.peer = "alice";
  log.from_session(connected);  // the app writes its own, with its own "ms"
  auto text = out.text();
  BOOST_TEST(text.starts_with("{\"event\":\"introduced\",\"peer\":\"alice\""), text);
  BOOST_TEST(text.find("connected") == std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(a_relayed_connection_going_direct_is_an_event) {
  captured out;
  event_log log{true, long_ago, out.file};
  punch::session_event moved{};
  moved.what = punch::session_event::kind::path_changed;
  moved.peer = "bob";
  moved.address = {boost::asio::ip::make_address("198.51.100.7"), 1234};
  moved.path = punch::path_kind::reflexive;
  log.from_session(moved);
  auto text = out.text();
  BOOST_TEST(text.starts_with("{\"event\":\"path_changed\",\"peer\":\"bob\","
                              "\"remote\":\"198.51.100.7:1234\",\"path\":\"reflexive\",\"ms\":"),
             text);
}

BOOST_AUTO_TEST_CASE(a_disabled_log_writes_nothing) {
  captured out;
  event_log log{false, long_ago, out.file};
  log.registered("alice", {}, {});
  log.error("x");
  BOOST_TEST(out.text().empty());
}

BOOST_AUTO_TEST_SUITE_END()
