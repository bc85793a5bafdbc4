// parse_redis_url: both URL forms with every optional part, and a precise error for each way
// a URL can be wrong (ring: unit).
#include "punch/redis.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

namespace {

punch::redis_address good(const std::string& url) {
  auto r = punch::parse_redis_url(url);
  BOOST_TEST_REQUIRE(r.address.has_value(), url << ": " << r.error);
  BOOST_TEST(r.error.empty());
  return *r.address;
}

// The error for `url` names the part that is wrong (`says`) and quotes the URL.
void bad(const std::string& url, const std::string& says) {
  auto r = punch::parse_redis_url(url);
  BOOST_TEST(!r.address.has_value(), url);
  BOOST_TEST(r.error.find(says) != std::string::npos, url << " gave \"" << r.error << "\", not \"" << says << "\"");
  BOOST_TEST(r.error.find(url) != std::string::npos, r.error);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_url_test)

BOOST_AUTO_TEST_CASE(a_tcp_url_defaults_to_port_6379_and_database_0) {
  auto a = good("redis://localhost");
  BOOST_TEST((a.type == punch::redis_address::kind::tcp));
  BOOST_TEST(a.host == "localhost");
  BOOST_TEST(a.port == 6379);
  BOOST_TEST(a.db == 0u);
  BOOST_TEST(a.password.empty());
}

BOOST_AUTO_TEST_CASE(a_tcp_url_gives_port_database_and_credentials) {
  auto a = good("redis://alice:p%40ss%3Aw@10.0.0.1:6380/2");
  BOOST_TEST(a.host == "10.0.0.1");
  BOOST_TEST(a.port == 6380);
  BOOST_TEST(a.db == 2u);
  BOOST_TEST(a.user == "alice");
  BOOST_TEST(a.password == "p@ss:w");
  auto b = good("redis://:secret@cache.example/0");
  BOOST_TEST(b.user.empty());
  BOOST_TEST(b.password == "secret");
  BOOST_TEST(b.host == "cache.example");
}

BOOST_AUTO_TEST_CASE(an_ipv6_host_is_written_in_brackets) {
  auto a = good("redis://[::1]:7000/3");
  BOOST_TEST(a.host == "::1");
  BOOST_TEST(a.port == 7000);
  BOOST_TEST(a.db == 3u);
  BOOST_TEST(good("redis://[2001:db8::5]").port == 6379);
}

BOOST_AUTO_TEST_CASE(a_unix_url_gives_the_socket_path_and_a_database) {
  auto a = good("redis+unix:///run/redis/redis.sock");
  BOOST_TEST((a.type == punch::redis_address::kind::unix_socket));
  BOOST_TEST(a.path == "/run/redis/redis.sock");
  BOOST_TEST(a.db == 0u);
  auto b = good("redis+unix://bob:pw@/tmp/r.sock?db=5");
  BOOST_TEST(b.path == "/tmp/r.sock");
  BOOST_TEST(b.db == 5u);
  BOOST_TEST(b.user == "bob");
  BOOST_TEST(b.password == "pw");
}

BOOST_AUTO_TEST_CASE(each_malformed_url_is_refused_with_the_reason) {
  bad("http://localhost", "expected redis://");
  bad("redis:/localhost", "expected redis://");
  bad("redis://", "no host");
  bad("redis:///0", "no host");
  bad("redis://:6379", "no host");
  bad("redis://h:", "empty port");
  bad("redis://h:0", "port \"0\"");
  bad("redis://h:70000", "port \"70000\"");
  bad("redis://h:63x", "port \"63x\"");
  bad("redis://h/abc", "database \"abc\"");
  bad("redis://h/-1", "database \"-1\"");
  bad("redis://h/99999999999", "database");
  bad("redis://[::1", "closing ']'");
  bad("redis://[zz]:1", "not an IPv6 address");
  bad("redis://[::1]x", "after the IPv6 address");
  bad("redis://::1:6379", "several ':'");
  bad("redis://secret@h", "no ':'");
  bad("redis://:@h", "empty password");
  bad("redis://:%4@h", "%-escape in the password");
  bad("redis://u%zz:pw@h", "%-escape in the user");
  bad("redis+unix://relative/path", "no absolute socket path");
  bad("redis+unix://", "no absolute socket path");
  bad("redis+unix:///s?x=1", "unknown query");
  bad("redis+unix:///s?db=", "database \"\"");
}

BOOST_AUTO_TEST_CASE(a_url_printed_for_logs_hides_the_password) {
  const auto text = punch::to_string(good("redis://alice:hunter2@[::1]:7000/4"));
  BOOST_TEST(text == "redis://alice:***@[::1]:7000/4");
  BOOST_TEST(punch::to_string(good("redis+unix://:pw@/tmp/s?db=2")) == "redis+unix://:***@/tmp/s?db=2");
  BOOST_TEST(punch::to_string(good("redis://h")) == "redis://h:6379");
}

BOOST_AUTO_TEST_SUITE_END()
