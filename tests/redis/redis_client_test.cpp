// The Redis client against a real redis-server (ring: real): TCP and unix URLs, AUTH and
// SELECT, pipelining in order, binary-safe arguments, scripts by digest, pub/sub, and what
// happens when Redis dies, stops answering or is restarted.
#include "redis/client.hpp"

#include "redis_test_support.hpp"

#include <boost/asio/io_context.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using punch::cluster_state;
using punch::error_code;
using punch::detail::redis_client;
using punch::detail::redis_reply;

punch::redis_address address_of(const std::string& url) {
  auto r = punch::parse_redis_url(url);
  BOOST_TEST_REQUIRE(r.address.has_value(), r.error);
  return *r.address;
}

// A client whose state changes are recorded.
struct watched_client {
  boost::asio::io_context& ctx;
  redis_client client;
  std::vector<cluster_state> states;

  watched_client(boost::asio::io_context& c, const std::string& url, punch::detail::redis_client_options o = {})
      : ctx(c), client(c.get_executor(), address_of(url), o) {
    client.on_state([this](cluster_state s) { states.push_back(s); });
  }
  bool wait_for(cluster_state s, std::chrono::milliseconds limit = 5s) {
    return test::run_until(ctx, [&] { return client.state() == s; }, limit);
  }
  // One command, run to its completion.
  std::pair<error_code, redis_reply> run(std::initializer_list<std::string_view> args) {
    std::optional<std::pair<error_code, redis_reply>> out;
    client.command(args, [&](error_code ec, redis_reply r) { out.emplace(ec, std::move(r)); });
    BOOST_TEST_REQUIRE(test::run_until(ctx, [&] { return out.has_value(); }), "the command did not complete");
    return *out;
  }
};

// A redis-server and a client of it, up (over the unix socket unless `tcp`); `prepare` runs
// before start(): subscriptions, scripts.
struct connected {
  test::redis_server server;
  boost::asio::io_context ctx;
  watched_client c;

  explicit connected(punch::detail::redis_client_options o = {},
                     const std::function<void(redis_client&)>& prepare = {}, bool tcp = false)
      : c(ctx, tcp ? server.tcp_url() : server.unix_url(), o) {
    if (prepare) prepare(c.client);
    c.client.start();
    BOOST_TEST_REQUIRE(c.wait_for(cluster_state::up), c.client.last_error());
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_client_test)

BOOST_AUTO_TEST_CASE(connects_over_tcp_and_over_a_unix_socket) {
  PUNCH_SKIP_WITHOUT_REDIS();
  test::redis_server server;
  boost::asio::io_context ctx;
  for (const auto& url : {server.tcp_url(), server.unix_url()}) {
    watched_client c(ctx, url);
    BOOST_TEST((c.client.state() == cluster_state::connecting));
    c.client.start();
    BOOST_TEST_REQUIRE(c.wait_for(cluster_state::up), url << ": " << c.client.last_error());
    auto [ec, reply] = c.run({"PING"});
    BOOST_TEST(!ec);
    BOOST_TEST(reply.text == "PONG");
    BOOST_TEST((c.states == std::vector<cluster_state>{cluster_state::up}));
  }
}

BOOST_AUTO_TEST_CASE(commands_before_the_connection_is_up_fail_at_once) {
  PUNCH_SKIP_WITHOUT_REDIS();
  test::redis_server server;
  boost::asio::io_context ctx;
  watched_client c(ctx, server.unix_url());
  auto [ec, reply] = c.run({"PING"});
  BOOST_TEST(ec == punch::make_error_code(punch::errc::cluster_unavailable));
  BOOST_TEST(c.client.stats().failed == 1u);
}

BOOST_AUTO_TEST_CASE(authenticates_with_the_url_password_and_selects_the_database) {
  PUNCH_SKIP_WITHOUT_REDIS();
  test::redis_server server("s3cret");
  boost::asio::io_context ctx;
  watched_client c(ctx, server.tcp_url(3));
  c.client.start();
  BOOST_TEST_REQUIRE(c.wait_for(cluster_state::up), c.client.last_error());
  BOOST_TEST(!c.run({"SET", "where", "three"}).first);
  BOOST_TEST(server.command({"INFO", "keyspace"}).find("db3:keys=1") != std::string::npos);

  // A wrong password: never up, down with Redis's reason.
  watched_client wrong(ctx, "redis://:nope@127.0.0.1:" + std::to_string(server.port()));
  wrong.client.start();
  BOOST_TEST_REQUIRE(wrong.wait_for(cluster_state::down));
  BOOST_TEST(wrong.client.last_error().find("AUTH") != std::string::npos, wrong.client.last_error());
  BOOST_TEST((wrong.states == std::vector<cluster_state>{cluster_state::down}));
}

BOOST_AUTO_TEST_CASE(ten_thousand_pipelined_commands_complete_in_order) {
  PUNCH_SKIP_WITHOUT_REDIS();
  connected t;
  constexpr int n = 10000;
  std::vector<std::int64_t> seen;
  int errors = 0;
  for (int i = 0; i < n; ++i) {
    t.c.client.command({"INCR", "counter"}, [&](error_code ec, redis_reply r) {
      if (ec) ++errors;
      seen.push_back(r.integer);
    });
  }
  // All were issued before any reply: they are in flight together.
  BOOST_TEST(t.c.client.in_flight() == std::size_t(n));
  BOOST_TEST_REQUIRE(test::run_until(t.ctx, [&] { return seen.size() == n; }, 20s));
  BOOST_TEST(errors == 0);
  bool in_order = true;
  for (int i = 0; i < n; ++i) in_order = in_order && seen[i] == i + 1;
  BOOST_TEST(in_order);
  BOOST_TEST(t.server.command({"GET", "counter"}) == std::to_string(n));
}

BOOST_AUTO_TEST_CASE(arguments_and_replies_are_binary_safe) {
  PUNCH_SKIP_WITHOUT_REDIS();
  connected t;
  const std::string key("k\0ey", 4);
  const std::string value("a\0b\r\n$3\r\n\xff", 11);
  BOOST_TEST(!t.c.run({"SET", key, value}).first);
  auto [ec, reply] = t.c.run({"GET", key});
  BOOST_TEST(!ec);
  BOOST_TEST((reply.type == redis_reply::kind::string));
  BOOST_TEST(reply.text == value);
}

BOOST_AUTO_TEST_CASE(scripts_run_by_digest_and_again_by_text_after_a_script_flush) {
  PUNCH_SKIP_WITHOUT_REDIS();
  redis_client::script_id add = 0;
  connected t({}, [&](redis_client& c) { add = c.add_script("return tonumber(ARGV[1]) + tonumber(ARGV[2])"); });
  auto eval = [&](std::string_view a, std::string_view b) {
    std::optional<redis_reply> out;
    const std::string_view args[] = {a, b};
    t.c.client.eval(add, {}, args, [&](error_code ec, redis_reply r) {
      BOOST_TEST(!ec);
      out = std::move(r);
    });
    BOOST_TEST_REQUIRE(test::run_until(t.ctx, [&] { return out.has_value(); }));
    return out->integer;
  };
  BOOST_TEST(eval("2", "3") == 5);
  BOOST_TEST(t.server.calls("evalsha") == 1u);
  BOOST_TEST(t.server.calls("eval") == 0u);
  BOOST_TEST(t.server.command({"SCRIPT", "FLUSH"}) == "OK");
  // NOSCRIPT, then the same by EVAL: the caller sees only the answer.
  BOOST_TEST(eval("4", "5") == 9);
  BOOST_TEST(t.server.calls("evalsha") == 2u);
  BOOST_TEST(t.server.calls("eval") == 1u);
}

BOOST_AUTO_TEST_CASE(subscribers_receive_what_is_published_on_their_channel) {
  PUNCH_SKIP_WITHOUT_REDIS();
  std::vector<std::string> got;
  connected t({}, [&](redis_client& c) {
    c.subscribe("news", [&](std::string_view channel, std::string_view payload) {
      BOOST_TEST(channel == "news");
      got.emplace_back(payload);
    });
  }, true);
  const std::string payload("\0binary\r\n", 9);
  // The same client publishes (its command connection), and so does another one.
  auto [ec, reply] = t.c.run({"PUBLISH", "news", payload});
  BOOST_TEST(!ec);
  BOOST_TEST(reply.integer == 1);
  BOOST_TEST(t.server.command({"PUBLISH", "elsewhere", "x"}) == "0");
  BOOST_TEST(t.server.command({"PUBLISH", "news", "second"}) == "1");
  BOOST_TEST_REQUIRE(test::run_until(t.ctx, [&] { return got.size() == 2; }));
  BOOST_TEST(got[0] == payload);
  BOOST_TEST(got[1] == "second");
}

BOOST_AUTO_TEST_CASE(redis_killed_fails_what_is_in_flight_and_a_restart_brings_it_back_subscribed) {
  PUNCH_SKIP_WITHOUT_REDIS();
  std::vector<std::string> got;
  connected t({.timeout = 5s, .reconnect_min = 50ms, .reconnect_max = 200ms}, [&](redis_client& c) {
    c.subscribe("news", [&](std::string_view, std::string_view payload) { got.emplace_back(payload); });
  });
  // Stopped first, so that the commands are surely still waiting for their replies.
  t.server.pause();
  std::vector<error_code> results;
  for (int i = 0; i < 100; ++i) t.c.client.command({"PING"}, [&](error_code ec, redis_reply) { results.push_back(ec); });
  t.server.kill();
  BOOST_TEST_REQUIRE(test::run_until(t.ctx, [&] { return results.size() == 100; }));
  BOOST_TEST(std::count(results.begin(), results.end(), punch::errc::cluster_unavailable) == 100);
  BOOST_TEST((t.c.client.state() == cluster_state::down));
  // Down, commands fail at once.
  BOOST_TEST(t.c.run({"PING"}).first == punch::make_error_code(punch::errc::cluster_unavailable));

  t.server.start();
  BOOST_TEST_REQUIRE(t.c.wait_for(cluster_state::up), t.c.client.last_error());
  BOOST_TEST(t.c.client.stats().reconnects == 1u);
  BOOST_TEST((t.c.states == std::vector<cluster_state>{cluster_state::up, cluster_state::down, cluster_state::up}));
  BOOST_TEST(t.c.run({"PING"}).second.text == "PONG");
  // Subscribed again on the new connection.
  BOOST_TEST(t.server.command({"PUBLISH", "news", "after the restart"}) == "1");
  BOOST_TEST_REQUIRE(test::run_until(t.ctx, [&] { return got.size() == 1; }));
  BOOST_TEST(got[0] == "after the restart");
}

BOOST_AUTO_TEST_CASE(a_redis_that_stops_answering_is_down_after_the_command_timeout) {
  PUNCH_SKIP_WITHOUT_REDIS();
  connected t({.timeout = 200ms, .reconnect_min = 50ms, .reconnect_max = 100ms});
  t.server.pause();
  const auto sent = std::chrono::steady_clock::now();
  auto [ec, reply] = t.c.run({"PING"});
  const auto waited = std::chrono::steady_clock::now() - sent;
  BOOST_TEST(ec == punch::make_error_code(punch::errc::cluster_unavailable));
  BOOST_TEST((t.c.client.state() == cluster_state::down));
  BOOST_TEST(waited >= 200ms);
  BOOST_TEST(waited < 2s);
  BOOST_TEST(t.c.client.last_error().find("no answer") != std::string::npos, t.c.client.last_error());
  t.server.resume();
  BOOST_TEST_REQUIRE(t.c.wait_for(cluster_state::up), t.c.client.last_error());
  BOOST_TEST(t.c.run({"PING"}).second.text == "PONG");
}

BOOST_AUTO_TEST_CASE(commands_beyond_the_in_flight_bound_are_refused_at_once) {
  PUNCH_SKIP_WITHOUT_REDIS();
  connected t({.timeout = 5s, .max_in_flight = 10});
  t.server.pause();
  std::vector<error_code> results;
  for (int i = 0; i < 15; ++i) t.c.client.command({"PING"}, [&](error_code ec, redis_reply) { results.push_back(ec); });
  // The five refused complete first, without waiting for Redis.
  BOOST_TEST_REQUIRE(test::run_until(t.ctx, [&] { return results.size() == 5; }));
  BOOST_TEST(std::count(results.begin(), results.end(), punch::errc::cluster_overloaded) == 5);
  BOOST_TEST(t.c.client.stats().dropped == 5u);
  BOOST_TEST(t.c.client.in_flight() == 10u);
  t.server.resume();
  BOOST_TEST_REQUIRE(test::run_until(t.ctx, [&] { return results.size() == 15; }));
  BOOST_TEST(std::count(results.begin(), results.end(), error_code{}) == 10);
}

BOOST_AUTO_TEST_CASE(stop_completes_what_is_in_flight_with_operation_aborted) {
  PUNCH_SKIP_WITHOUT_REDIS();
  connected t;
  t.server.pause();
  std::vector<error_code> results;
  for (int i = 0; i < 3; ++i) t.c.client.command({"PING"}, [&](error_code ec, redis_reply) { results.push_back(ec); });
  t.c.client.stop();
  BOOST_TEST(results.empty());  // never inside the call
  BOOST_TEST_REQUIRE(test::run_until(t.ctx, [&] { return results.size() == 3; }));
  BOOST_TEST(std::count(results.begin(), results.end(), boost::asio::error::operation_aborted) == 3);
  BOOST_TEST(t.c.client.stats().failed == 0u);
  t.server.resume();
}

BOOST_AUTO_TEST_SUITE_END()
