// The command-line blocks punch-broker and punch-relay share: the options every server has
// (--listen, the transport's, --stats-interval, --metrics, --rate-limit/--rate-burst, --quiet,
// --help, --version), how they are read and checked, the exit codes and their --help paragraph.
#pragma once

#include "punch/transport.hpp"
#include "punch/transport_registry.hpp"

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/variables_map.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace punch::apps {

// Exit codes, documented in --help (exit_codes_help).
inline constexpr int exit_ok = 0;           // stopped by SIGINT or SIGTERM
inline constexpr int exit_failure = 1;      // cannot listen, or the server failed while serving
inline constexpr int exit_bad_options = 2;  // an option is malformed, or names an unknown transport

// What every server app is given.
struct server_app_options {
  endpoint listen;
  std::string transport = "udp";
  std::vector<std::filesystem::path> transport_plugins;
  transport_options transport_settings;     // --transport-option KEY=VALUE
  std::chrono::seconds stats_interval{0};   // 0: no counters line
  std::optional<endpoint> metrics;          // --metrics ADDR:PORT (TCP): the Prometheus endpoint; none: off
  bool quiet = false;
  std::uint32_t rate_limit = 0;             // datagrams per second (the app says of what); 0: no limit
  std::uint32_t rate_burst = 0;             // saved up at most; 0: no limit

  server_app_options() = default;
  // An app's defaults: its port on every IPv4 address, and its rate limit.
  server_app_options(std::uint16_t port, std::uint32_t limit, std::uint32_t burst)
      : listen{asio::ip::address_v4::any(), port}, rate_limit{limit}, rate_burst{burst} {}
};

enum class parse_action { run, help, version, error };

template <typename Options>
struct parse_result {
  using action = parse_action;
  action what = action::error;
  Options options;   // valid when what == run
  std::string text;  // help text, version line, or a one-line error naming the option
};

// What --help says before the options: `intro` (usage, what the server does), then what it
// writes on stderr: its first line, then `log_lines` (the rest of "one timestamped line per").
struct server_help {
  const char* intro;
  const char* log_lines;
};

// The default and the --help text of an option.
struct option_text {
  const char* default_value;
  const char* help;
};

// What a server app tells the shared command line about itself: its name (error lines,
// --version), its --help text, and the defaults and help of the options every server has.
struct server_text {
  const char* name;          // "punch-relay"
  server_help help;
  option_text listen;        // "0.0.0.0:3479"
  option_text rate_limit;
  option_text rate_burst;
  const char* quiet_help;    // what --quiet silences
};

// An option only one server has: "--NAME VALUE", the value taken as a string and checked by
// the app, so that every message can name its option.
struct own_option {
  const char* name;
  const char* value_name;     // "N", "SECONDS"
  option_text text;
};

// A server app's whole command line: its text, and its own options (between --listen's and
// --rate-limit in --help), which `read_own` reads into Options (a one-line error, or empty).
template <typename Options>
struct server_description {
  server_text text;
  std::span<const own_option> own;
  std::string (*read_own)(const boost::program_options::variables_map&, Options&);
};

// The server's options in --help's order: --listen and the transport's, the app's own (added
// in `own`), --rate-limit and --rate-burst, --stats-interval, --metrics, --quiet, --help, --version.
boost::program_options::options_description server_options(const server_text& s,
                                                            std::span<const own_option> own);

// What a command line asks for when it is not to run: help, the version, or an error line.
struct early_exit {
  parse_action what;
  std::string text;
};
// Parses the command line into `vm`; nullopt when the server is to run. --help prints the
// server's help, the options of `d` and the exit codes; --version "<name> <version>".
std::optional<early_exit> parse_command_line(int argc, const char* const argv[],
                                             const boost::program_options::options_description& d,
                                             boost::program_options::variables_map& vm, const server_text& s);

// Reads --listen and the transport's options into `o`; a one-line error, or empty.
std::string read_listen_and_transport(const boost::program_options::variables_map& vm, server_app_options& o);
// Reads --stats-interval, --metrics and --quiet into `o`; a one-line error, or empty.
std::string read_stats_and_quiet(const boost::program_options::variables_map& vm, server_app_options& o);
// Reads --rate-limit and --rate-burst; a one-line error, or empty.
std::string read_rate_options(const boost::program_options::variables_map& vm, std::uint32_t& limit,
                              std::uint32_t& burst);
// A count from 1 to 4294967295 in option `name`; a one-line error, or empty.
std::string read_count(const boost::program_options::variables_map& vm, const char* name, std::size_t& into);
// Seconds from `min` (0: off, or 1) to a week in option `name`; a one-line error, or empty.
std::string read_seconds(const boost::program_options::variables_map& vm, const char* name, std::uint64_t min,
                         std::chrono::seconds& into);
// A whole number from `min` to `max` in option `name` (a string value); on failure `error` is
// "--name "text": expected <expected>".
std::optional<std::uint64_t> read_number(const boost::program_options::variables_map& vm, const char* name,
                                         std::uint64_t min, std::uint64_t max, const char* expected,
                                         std::string& error);

// The transport options a server opens its socket with: the given ones, and for udp the fast
// path unless given otherwise (batch=64: recvmmsg/sendmmsg; receive-buffer and send-buffer
// 4194304: bursts wait in the kernel instead of being dropped).
transport_options server_transport_settings(const server_app_options& o);

template <typename Options>
parse_result<Options> parse_result_of(early_exit e) {
  parse_result<Options> r;
  r.what = e.what;
  r.text = std::move(e.text);
  return r;
}

template <typename Options>
parse_result<Options> parse_failure(std::string message) {
  return parse_result_of<Options>({parse_action::error, std::move(message)});
}

// A server's whole command line: the options of server_options(), --help and --version; then
// the shared options are read, and the app's own with `s.read_own`.
template <typename Options>
parse_result<Options> parse_server_command_line(int argc, const char* const argv[],
                                                const server_description<Options>& s) {
  const auto d = server_options(s.text, s.own);
  boost::program_options::variables_map vm;
  if (auto early = parse_command_line(argc, argv, d, vm, s.text)) return parse_result_of<Options>(*early);
  parse_result<Options> r;
  std::string why = read_listen_and_transport(vm, r.options);
  if (why.empty()) why = s.read_own(vm, r.options);
  if (why.empty()) why = read_rate_options(vm, r.options.rate_limit, r.options.rate_burst);
  if (why.empty()) why = read_stats_and_quiet(vm, r.options);
  if (!why.empty()) return parse_failure<Options>(std::move(why));
  r.what = parse_action::run;
  return r;
}

// A server's settings (broker_options, relay_options) with the app's rate limit, the rest
// at their defaults.
template <typename Settings>
Settings settings_with_rate_limit(const server_app_options& o) {
  Settings s;
  s.rate_limit = o.rate_limit;
  s.rate_burst = o.rate_burst;
  return s;
}

}  // namespace punch::apps
