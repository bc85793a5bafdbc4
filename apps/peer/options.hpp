// punch-peer's command line: what it accepts, how it is checked, and the --help text.
#pragma once

#include "punch/identity.hpp"
#include "punch/path_policy.hpp"
#include "punch/transport.hpp"
#include "punch/transport_registry.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace punch::peer_app {

// Exit codes, documented in --help.
inline constexpr int exit_ok = 0;           // connected, then closed cleanly (either side)
inline constexpr int exit_failure = 1;      // broker unreachable, peer not found, punch timeout, ...
inline constexpr int exit_bad_options = 2;  // an option is missing or malformed, or the --key file is bad

// A HOST:PORT as typed: the host may be a name, resolved later with asio's resolver.
struct host_port {
  std::string host;       // without the brackets of "[::1]:3478"
  std::uint16_t port = 0;
};

// One --broker: its address, and its address in the other family ("--broker A,B").
struct broker_hosts {
  host_port main;
  std::optional<host_port> other;
};

struct peer_options {
  host_port broker;
  // The same broker's address in the other family ("--broker A,B"): a dual-stack socket
  // registers over both.
  std::optional<host_port> broker_other;
  // The --broker options after the first, in order: where the session fails over to when
  // the broker it uses stops answering (session_options::fallback_brokers).
  std::vector<broker_hosts> fallback_brokers;
  // How often the registration is refreshed; a dead broker is left within this plus the
  // request timeout (5 s, or --timeout if shorter).
  std::chrono::milliseconds keepalive{std::chrono::seconds{15}};
  std::optional<host_port> relay;           // punch-relay to fall back on when punching fails
  // --turn turn:HOST:PORT (repeatable): standard TURN servers, tried in order, with either
  // --turn-user/--turn-password (long-term) or --turn-secret (REST credentials, --turn-user
  // optional as the name inside them).
  std::vector<host_port> turn;
  std::string turn_user;
  std::string turn_password;
  std::optional<std::string> turn_secret;
  std::string id;
  std::optional<std::string> connect;       // initiate to this peer; none = accept one
  std::filesystem::path key;                // our identity key file, made on first run
  std::optional<public_key> expect_key;     // the key the --connect peer must prove it holds
  std::string transport = "udp";
  std::vector<std::filesystem::path> transport_plugins;
  transport_options transport_settings;     // --transport-option KEY=VALUE
  // Dual-stack by default ("::" reaches IPv4 and IPv6); where the machine has no IPv6 at all,
  // 0.0.0.0 instead.
  endpoint bind{asio::ip::address_v6::any(), 0};
  bool bind_given = false;
  std::chrono::milliseconds timeout{std::chrono::seconds{30}};
  bool events = false;
  bool stream = false;                      // --stream: one reliable byte stream, not datagrams
  bool port_prediction = true;              // false: --no-port-prediction
  bool port_mapping = true;                 // false: --no-port-mapping
  path_mode path = path_mode::any;          // --path any|direct|relay|adaptive
};

struct parse_result {
  enum class action { run, help, version, error } what = action::error;
  peer_options options;  // valid when what == run
  std::string text;      // help text, version line, or a one-line error naming the option
};

// Never throws and never prints: main decides where the text goes and which code to exit with.
parse_result parse_options(int argc, const char* const argv[]);

// Splits "HOST:PORT" or "[V6]:PORT"; on failure `error` says what is wrong with `text`.
std::optional<host_port> parse_host_port(std::string_view text, std::string& error);

// Where --key defaults to: ${XDG_CONFIG_HOME:-$HOME/.config}/punch/<id>.key, from the values of
// those variables (null when unset). A relative XDG_CONFIG_HOME is ignored, as the XDG base
// directory spec says; nullopt when there is no usable directory at all.
std::optional<std::filesystem::path> default_key_path(std::string_view id, const char* xdg_config_home,
                                                      const char* home);

// Peer ids: 1..64 characters of [A-Za-z0-9._@-] (the broker's rule; also keeps JSON simple).
bool is_valid_peer_id(std::string_view id) noexcept;

// "2 s", "1.5 s": how the app writes a timeout in its messages.
std::string format_seconds(std::chrono::milliseconds d);

}  // namespace punch::peer_app
