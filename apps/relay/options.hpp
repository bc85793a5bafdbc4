// punch-relay's command line: what it accepts, how it is checked, and the --help text. The
// blocks it shares with punch-broker are in apps/common/server_options.hpp.
#pragma once

#include "server_options.hpp"

#include "punch/relay.hpp"
#include "punch/transport.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace punch::relay_app {

// The rate limit counts datagrams per second per side of an allocation.
struct relay_app_options : apps::server_app_options {
  relay_app_options() : server_app_options(3479, 2000, 4000) {}
  std::size_t max_allocations = 10000;
  std::chrono::seconds lifetime{60};        // an allocation without traffic for this long is dropped
};

using parse_result = apps::parse_result<relay_app_options>;

// Never throws and never prints: main decides where the text goes and which code to exit with.
parse_result parse_options(int argc, const char* const argv[]);

// The transport options the relay opens its socket with: --transport-option values, and for
// udp the broker's fast path unless given otherwise (apps::server_transport_settings).
transport_options transport_settings_for(const relay_app_options& o);

// The relay's settings from the app's.
relay_options make_relay_options(const relay_app_options& o);

}  // namespace punch::relay_app
