// punch-broker --redis as a process (ring: real): it joins the cluster on a real redis-server
// (its channel is subscribed), reaches a Redis that comes up after it (reconnect with backoff),
// and stops within a second of SIGTERM either way. The executable comes from the environment
// (PUNCH_BROKER; see CMakeLists.txt). What the broker does with the cluster is tested in
// tests/broker; the cluster itself in tests/redis.
#include "redis_server.hpp"
#include "server_process.hpp"

#include <boost/test/unit_test.hpp>

#include <poll.h>

#include <csignal>
#include <cstdlib>
#include <iostream>

using namespace apps_test;
using namespace std::chrono_literals;

namespace {

std::string broker_executable() {
  const char* path = std::getenv("PUNCH_BROKER");
  if (!path) throw std::runtime_error("PUNCH_BROKER is not set (run through CTest)");
  return path;
}

// Polls PUBSUB CHANNELS until `channel` is subscribed; between tries waits on the broker's
// exit (10 ms at most), so a crash ends the wait at once. False after `patience`.
bool wait_subscribed(const test::redis_server& redis, server_process& broker, const std::string& channel,
                     std::chrono::milliseconds patience) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  while (std::chrono::steady_clock::now() < deadline) {
    if (redis.command({"PUBSUB", "CHANNELS"}).find(channel) != std::string::npos) return true;
    pollfd p{broker.exit_descriptor(), POLLIN, 0};
    if (::poll(&p, 1, 10) > 0) return false;
  }
  return false;
}

void stops_on_sigterm(server_process& broker) {
  broker.send_signal(SIGTERM);
  const auto status = broker.wait_exit(1000ms);
  BOOST_TEST_REQUIRE(status.has_value(), "no exit within 1 s of SIGTERM; output: " << broker.output());
  BOOST_TEST(describe_status(*status) == "exit code 0", broker.output());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(broker_redis_test)

BOOST_AUTO_TEST_CASE(a_broker_with_redis_joins_the_cluster_under_its_name_and_stops_on_sigterm) {
  if (auto why = test::redis_server::unavailable()) {
    std::cout << "SKIPPED: " << *why << std::endl;
    return;
  }
  test::redis_server redis;
  server_process broker({broker_executable(), "--listen", "127.0.0.1:0", "--redis", redis.unix_url(), "--name",
                         "east", "--quiet"});
  broker.wait_listening(5000ms);
  BOOST_TEST(wait_subscribed(redis, broker, "punch:broker:east", 5000ms), broker.output());
  stops_on_sigterm(broker);
  BOOST_TEST(broker.output().find("sharing the registry on redis+unix://" + redis.socket_path() + " as \"east\"") !=
                 std::string::npos,
             broker.output());
}

BOOST_AUTO_TEST_CASE(a_broker_started_before_its_redis_connects_once_redis_is_up) {
  if (auto why = test::redis_server::unavailable()) {
    std::cout << "SKIPPED: " << *why << std::endl;
    return;
  }
  test::redis_server redis;
  redis.kill();
  server_process broker({broker_executable(), "--listen", "127.0.0.1:0", "--redis", redis.tcp_url(), "--quiet"});
  const auto port = broker.wait_listening(5000ms);
  redis.start();
  // The default name: this host's name and the port.
  BOOST_TEST(wait_subscribed(redis, broker, ":" + std::to_string(port), 10000ms), broker.output());
  stops_on_sigterm(broker);
}

BOOST_AUTO_TEST_SUITE_END()
