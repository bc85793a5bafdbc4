// punch-broker's command line: what it accepts, how it is checked, and the --help text. The
// blocks it shares with punch-relay are in apps/common/server_options.hpp.
#pragma once

#include "server_options.hpp"

#include "punch/broker.hpp"
#include "punch/redis.hpp"
#include "punch/transport.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace punch::broker_app {

// The rate limit counts datagrams per second per source address.
struct broker_app_options : apps::server_app_options {
  broker_app_options() : server_app_options(3478, 100, 200) {}
  std::size_t max_peers = 100000;
  std::chrono::seconds lifetime_max{600};
  std::size_t threads = 1;                  // brokers on one port (SO_REUSEPORT), one per thread
  std::uint16_t other_port = 0;             // NAT mapping discovery's second port; 0: none
  std::optional<redis_address> redis;       // --redis: brokers sharing a registry there
  std::string name;                         // --name in the cluster; empty: cluster_name_for()
};

using parse_result = apps::parse_result<broker_app_options>;

// Never throws and never prints: main decides where the text goes and which code to exit with.
parse_result parse_options(int argc, const char* const argv[]);

// The transport options the broker opens its socket with: --transport-option values, and for
// the udp transport the fast path unless given otherwise (apps::server_transport_settings),
// with reuse-port for --threads.
transport_options transport_settings_for(const broker_app_options& o);

// The broker's name in a Redis cluster: --name, or this host's name and the port it listens
// on ("HOST:PORT"), unique among brokers on distinct hosts or ports.
std::string cluster_name_for(const broker_app_options& o, std::uint16_t listening_port);

// The broker's settings from the app's: lifetimes are clamped so min ≤ default ≤ max; the
// rate limit as given. The NONCE secret is main's: one for all threads.
broker_options make_broker_options(const broker_app_options& o);

}  // namespace punch::broker_app
