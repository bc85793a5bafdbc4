// Two brokers' redis clusters (two names, one real redis-server; ring: real): claims found
// across them, the key binding held across the cluster, expiry, the lazy extend counted at
// Redis itself, introductions passed from one to the other, and the state through a restart.
#include "punch/redis.hpp"

#include "redis_test_support.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using punch::cluster;
using punch::cluster_entry;
using punch::cluster_state;
using punch::error_code;

punch::registration_record record(std::string_view id, std::byte key_byte, std::uint16_t port) {
  punch::registration_record r;
  r.set_id(id);
  r.key.fill(key_byte);
  r.reflexive = {boost::asio::ip::make_address("203.0.113.7"), port};
  r.reflexive_alt = {boost::asio::ip::make_address("2001:db8::7"), port};
  r.add_host({boost::asio::ip::make_address("192.168.1.20"), 40000});
  r.add_host({boost::asio::ip::make_address("fd00::20"), 40001});
  r.nat = 2;
  return r;
}

// Two members, "east" and "west", of one cluster on `server`.
struct two_brokers {
  test::redis_server& server;
  boost::asio::io_context ctx;
  std::unique_ptr<cluster> east, west;

  explicit two_brokers(test::redis_server& s, std::chrono::milliseconds timeout = 1s) : server(s) {
    auto where = *punch::parse_redis_url(s.unix_url()).address;
    east = punch::make_redis_cluster(ctx.get_executor(), where,
                                     {.name = "east", .command_timeout = timeout, .reconnect_min = 50ms, .reconnect_max = 200ms});
    west = punch::make_redis_cluster(ctx.get_executor(), where,
                                     {.name = "west", .command_timeout = timeout, .reconnect_min = 50ms, .reconnect_max = 200ms});
  }
  void start() {
    east->start();
    west->start();
    BOOST_TEST_REQUIRE(test::run_until(ctx, [&] {
      return east->stats().state == cluster_state::up && west->stats().state == cluster_state::up;
    }));
  }
  error_code claim(cluster& c, const punch::registration_record& r, std::chrono::milliseconds lifetime = 10s) {
    std::optional<error_code> out;
    c.claim(r, lifetime, [&](error_code ec) { out = ec; });
    BOOST_TEST_REQUIRE(test::run_until(ctx, [&] { return out.has_value(); }));
    return *out;
  }
  std::pair<error_code, cluster_entry> find(cluster& c, std::string_view id) {
    std::optional<std::pair<error_code, cluster_entry>> out;
    c.find(id, [&](error_code ec, cluster_entry e) { out.emplace(ec, std::move(e)); });
    BOOST_TEST_REQUIRE(test::run_until(ctx, [&] { return out.has_value(); }));
    return *out;
  }
  // Lets `d` pass on the io_context (a timer, not a sleep: everything else keeps running).
  void let_pass(std::chrono::milliseconds d) {
    boost::asio::steady_timer t(ctx, d);
    bool done = false;
    t.async_wait([&](error_code) { done = true; });
    BOOST_TEST_REQUIRE(test::run_until(ctx, [&] { return done; }));
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_cluster_test)

BOOST_AUTO_TEST_CASE(a_claim_at_one_broker_is_found_at_the_other) {
  PUNCH_SKIP_WITHOUT_REDIS();
  test::redis_server server;
  two_brokers b(server);
  BOOST_TEST(b.east->name() == "east");
  b.start();
  const auto alice = record("alice", std::byte{0xA1}, 50000);
  BOOST_TEST(!b.claim(*b.east, alice, 10s));
  const auto before = std::chrono::steady_clock::now();
  auto [ec, found] = b.find(*b.west, "alice");
  BOOST_TEST_REQUIRE(!ec, ec.message());
  BOOST_TEST(found.holder == "east");
  BOOST_TEST(found.record.id() == "alice");
  BOOST_TEST((found.record.key == alice.key));
  BOOST_TEST(found.record.reflexive == alice.reflexive);
  BOOST_TEST(found.record.reflexive_alt == alice.reflexive_alt);
  BOOST_TEST_REQUIRE(found.record.host().size() == 2u);
  BOOST_TEST(found.record.host()[0] == alice.host()[0]);
  BOOST_TEST(found.record.host()[1] == alice.host()[1]);
  BOOST_TEST(found.record.nat == 2);
  // expires in the reader's clock: now plus what Redis says is left of the 10 s.
  BOOST_TEST((found.record.expires > before + 8s && found.record.expires <= std::chrono::steady_clock::now() + 10s));
  BOOST_TEST(b.find(*b.west, "bob").first == punch::make_error_code(punch::errc::peer_not_found));
  BOOST_TEST(b.west->stats().finds == 2u);
  BOOST_TEST(b.west->stats().find_misses == 1u);
  BOOST_TEST(b.east->stats().claims == 1u);
}

BOOST_AUTO_TEST_CASE(a_live_id_is_refused_to_another_key_at_any_broker_and_taken_over_with_the_same_key) {
  PUNCH_SKIP_WITHOUT_REDIS();
  test::redis_server server;
  two_brokers b(server);
  b.start();
  const auto alice = record("alice", std::byte{0xA1}, 50000);
  const auto impostor = record("alice", std::byte{0x66}, 50001);
  BOOST_TEST(!b.claim(*b.east, alice));
  BOOST_TEST(b.claim(*b.west, impostor) == punch::make_error_code(punch::errc::id_taken));
  BOOST_TEST(b.claim(*b.east, impostor) == punch::make_error_code(punch::errc::id_taken));
  BOOST_TEST(b.west->stats().claim_conflicts == 1u);
  BOOST_TEST(b.find(*b.east, "alice").second.holder == "east");
  // The peer moved to west (failover): same key, new address, west holds it now.
  auto moved = alice;
  moved.reflexive = {boost::asio::ip::make_address("198.51.100.9"), 6000};
  BOOST_TEST(!b.claim(*b.west, moved));
  auto [ec, found] = b.find(*b.east, "alice");
  BOOST_TEST(!ec);
  BOOST_TEST(found.holder == "west");
  BOOST_TEST(found.record.reflexive == moved.reflexive);
}

BOOST_AUTO_TEST_CASE(an_expired_entry_is_not_found_and_free_for_another_key) {
  PUNCH_SKIP_WITHOUT_REDIS();
  test::redis_server server;
  two_brokers b(server);
  b.start();
  const auto alice = record("alice", std::byte{0xA1}, 50000);
  BOOST_TEST(!b.claim(*b.east, alice, 100ms));
  BOOST_TEST(!b.find(*b.west, "alice").first);
  // Polled until Redis expired it (bounded).
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = b.find(*b.west, "alice").first == punch::errc::peer_not_found;
    if (!gone) b.let_pass(20ms);
  }
  BOOST_TEST(gone);
  BOOST_TEST(!b.claim(*b.west, record("alice", std::byte{0x66}, 1)));
}

BOOST_AUTO_TEST_CASE(extend_reaches_redis_only_once_a_third_of_the_lifetime_has_passed) {
  PUNCH_SKIP_WITHOUT_REDIS();
  test::redis_server server;
  two_brokers b(server);
  b.start();
  const auto alice = record("alice", std::byte{0xA1}, 50000);
  constexpr auto lifetime = 600ms;
  BOOST_TEST(!b.claim(*b.east, alice, lifetime));
  const auto scripts_before = server.calls("evalsha");
  for (int i = 0; i < 100; ++i) b.east->extend(alice, lifetime);
  b.let_pass(50ms);
  BOOST_TEST(b.east->stats().extends_skipped == 100u);
  BOOST_TEST(b.east->stats().extends == 0u);
  BOOST_TEST(server.calls("evalsha") == scripts_before);

  b.let_pass(lifetime / 3);
  b.east->extend(alice, lifetime);
  b.east->extend(alice, lifetime);  // absorbed: just written
  BOOST_TEST(b.east->stats().extends == 1u);
  BOOST_TEST(b.east->stats().extends_skipped == 101u);
  BOOST_TEST_REQUIRE(test::run_until(b.ctx, [&] { return server.calls("evalsha") == scripts_before + 1; }));
  // It was extended: alive past the claim's lifetime.
  const auto pttl = std::stoll(server.command({"PTTL", "punch:alice"}));
  BOOST_TEST(pttl > (lifetime - 250ms).count());

  // West does not hold alice: its extend reaches Redis and changes nothing.
  b.west->extend(alice, 10s);
  BOOST_TEST_REQUIRE(test::run_until(b.ctx, [&] { return server.calls("evalsha") == scripts_before + 2; }));
  BOOST_TEST(std::stoll(server.command({"PTTL", "punch:alice"})) <= lifetime.count());
}

BOOST_AUTO_TEST_CASE(a_forwarded_introduction_reaches_the_holder_with_the_same_bytes) {
  PUNCH_SKIP_WITHOUT_REDIS();
  test::redis_server server;
  two_brokers b(server);
  std::vector<punch::cluster_introduction> at_west, at_east;
  b.west->on_introduction([&](punch::cluster_introduction in) { at_west.push_back(std::move(in)); });
  b.east->on_introduction([&](punch::cluster_introduction in) { at_east.push_back(std::move(in)); });
  b.start();
  punch::cluster_introduction in;
  in.from_broker = "east";
  in.requester = "alice";
  in.target = "bob";
  for (std::size_t i = 0; i < in.token.size(); ++i) in.token[i] = std::byte(i * 17);
  for (int i = 0; i < 300; ++i) in.request.push_back(std::byte(i % 256));
  b.east->forward("west", in);
  BOOST_TEST_REQUIRE(test::run_until(b.ctx, [&] { return at_west.size() == 1; }));
  BOOST_TEST(at_west[0].from_broker == "east");
  BOOST_TEST(at_west[0].requester == "alice");
  BOOST_TEST(at_west[0].target == "bob");
  BOOST_TEST((at_west[0].token == in.token));
  BOOST_TEST((at_west[0].request == in.request));
  BOOST_TEST(at_east.empty());
  BOOST_TEST(b.east->stats().introductions_sent == 1u);
  BOOST_TEST(b.west->stats().introductions_received == 1u);
  // Damaged bytes on the channel are dropped, never handed on.
  BOOST_TEST(server.command({"PUBLISH", "punch:broker:west", "\x01junk"}) == "1");
  b.east->forward("west", in);
  BOOST_TEST_REQUIRE(test::run_until(b.ctx, [&] { return at_west.size() == 2; }));
  BOOST_TEST(b.west->stats().introductions_received == 2u);
}

BOOST_AUTO_TEST_CASE(a_malformed_value_is_a_miss_not_a_crash) {
  PUNCH_SKIP_WITHOUT_REDIS();
  test::redis_server server;
  two_brokers b(server);
  b.start();
  BOOST_TEST(server.command({"SET", "punch:alice", std::string("\x01short", 6)}) == "OK");
  BOOST_TEST(b.find(*b.west, "alice").first == punch::make_error_code(punch::errc::peer_not_found));
  BOOST_TEST(server.command({"SET", "punch:bob", ""}) == "OK");
  BOOST_TEST(b.find(*b.west, "bob").first == punch::make_error_code(punch::errc::peer_not_found));
  BOOST_TEST(server.command({"HSET", "punch:carol", "f", "v"}) == "1");  // not even a string
  BOOST_TEST(b.find(*b.west, "carol").first == punch::make_error_code(punch::errc::peer_not_found));
  BOOST_TEST(b.west->stats().find_misses == 3u);
}

BOOST_AUTO_TEST_CASE(the_state_goes_down_with_redis_and_up_again_when_it_is_back) {
  PUNCH_SKIP_WITHOUT_REDIS();
  test::redis_server server;
  two_brokers b(server);
  std::vector<cluster_state> states;
  b.east->on_state([&](cluster_state s) { states.push_back(s); });
  BOOST_TEST((b.east->stats().state == cluster_state::connecting));
  b.start();
  server.kill();
  BOOST_TEST_REQUIRE(test::run_until(b.ctx, [&] { return b.east->stats().state == cluster_state::down; }));
  // Down: operations fail with cluster_unavailable, counted.
  BOOST_TEST(b.claim(*b.east, record("alice", std::byte{1}, 1)) == punch::make_error_code(punch::errc::cluster_unavailable));
  BOOST_TEST(b.find(*b.east, "alice").first == punch::make_error_code(punch::errc::cluster_unavailable));
  BOOST_TEST(b.east->stats().failed == 2u);
  server.start();
  BOOST_TEST_REQUIRE(test::run_until(b.ctx, [&] { return b.east->stats().state == cluster_state::up; }));
  BOOST_TEST((states == std::vector<cluster_state>{cluster_state::up, cluster_state::down, cluster_state::up}));
  BOOST_TEST(b.east->stats().reconnects == 1u);
  BOOST_TEST(!b.claim(*b.east, record("alice", std::byte{1}, 1)));
}

BOOST_AUTO_TEST_SUITE_END()
