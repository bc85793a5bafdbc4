// punch-broker's command line: what it accepts, how it is checked, and the --help text.
#pragma once

#include "punch/broker.hpp"
#include "punch/transport.hpp"
#include "punch/transport_registry.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace punch::broker_app {

// Exit codes, documented in --help.
inline constexpr int exit_ok = 0;           // stopped by SIGINT or SIGTERM
inline constexpr int exit_failure = 1;      // cannot listen, or the broker failed while serving
inline constexpr int exit_bad_options = 2;  // an option is malformed, or names an unknown transport

struct broker_app_options {
  endpoint listen{asio::ip::address_v4::any(), 3478};
  std::string transport = "udp";
  std::vector<std::filesystem::path> transport_plugins;
  transport_options transport_settings;     // --transport-option KEY=VALUE
  std::size_t max_peers = 100000;
  std::chrono::seconds lifetime_max{600};
  std::chrono::seconds stats_interval{0};   // 0: no counters line
  std::size_t threads = 1;                  // brokers on one port (SO_REUSEPORT), one per thread
  std::uint32_t rate_limit = 100;           // datagrams per second per source address; 0: no limit
  std::uint32_t rate_burst = 200;           // saved up at most; 0: no limit
  std::uint16_t other_port = 0;             // NAT mapping discovery's second port; 0: none
  bool quiet = false;
};

struct parse_result {
  enum class action { run, help, version, error } what = action::error;
  broker_app_options options;  // valid when what == run
  std::string text;            // help text, version line, or a one-line error naming the option
};

// Never throws and never prints: main decides where the text goes and which code to exit with.
parse_result parse_options(int argc, const char* const argv[]);


// The transport options the broker opens its socket with: --transport-option values, and for
// the udp transport the fast path unless given otherwise (batch=64: recvmmsg/sendmmsg;
// receive-buffer and send-buffer 4194304: bursts wait in the kernel instead of being dropped).
transport_options transport_settings_for(const broker_app_options& o);

// The broker's settings from the app's: lifetimes are clamped so min ≤ default ≤ max; the
// rate limit as given. The NONCE secret is main's: one for all threads.
broker_options make_broker_options(const broker_app_options& o);

}  // namespace punch::broker_app
