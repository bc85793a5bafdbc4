// punch-relay's command line: what it accepts, how it is checked, and the --help text.
#pragma once

#include "punch/relay.hpp"
#include "punch/transport.hpp"
#include "punch/transport_registry.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace punch::relay_app {

// Exit codes, documented in --help (the same as punch-broker's).
inline constexpr int exit_ok = 0;           // stopped by SIGINT or SIGTERM
inline constexpr int exit_failure = 1;      // cannot listen, or the relay failed while serving
inline constexpr int exit_bad_options = 2;  // an option is malformed, or names an unknown transport

struct relay_app_options {
  endpoint listen{asio::ip::address_v4::any(), 3479};
  std::string transport = "udp";
  std::vector<std::filesystem::path> transport_plugins;
  transport_options transport_settings;     // --transport-option KEY=VALUE
  std::size_t max_allocations = 10000;
  std::chrono::seconds lifetime{60};
  std::uint32_t rate_limit = 2000;          // datagrams per second per side of an allocation; 0: none
  std::uint32_t rate_burst = 4000;
  std::chrono::seconds stats_interval{0};   // 0: no counters line
  bool quiet = false;
};

struct parse_result {
  enum class action { run, help, version, error } what = action::error;
  relay_app_options options;  // valid when what == run
  std::string text;           // help text, version line, or a one-line error naming the option
};

// Never throws and never prints: main decides where the text goes and which code to exit with.
parse_result parse_options(int argc, const char* const argv[]);

// The transport options the relay opens its socket with: --transport-option values, and for
// udp the broker's fast path unless given otherwise (batch=64, 4 MiB socket buffers).
transport_options transport_settings_for(const relay_app_options& o);

// The relay's settings from the app's.
relay_options make_relay_options(const relay_app_options& o);

}  // namespace punch::relay_app
