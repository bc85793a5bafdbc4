// The command-line blocks punch-broker and punch-relay share: the options every server has
// (--listen, the transport's, --stats-interval, --rate-limit/--rate-burst, --quiet, --help,
// --version), how they are read and checked, the exit codes and their --help paragraph.
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
  bool quiet = false;
};

enum class parse_action { run, help, version, error };

template <typename Options>
struct parse_result {
  using action = parse_action;
  action what = action::error;
  Options options;   // valid when what == run
  std::string text;  // help text, version line, or a one-line error naming the option
};

// --listen with its default "ADDR:PORT" and help, then the transport's options.
void add_listen_and_transport_options(boost::program_options::options_description& d, const char* default_listen,
                                      const char* listen_help);
// --stats-interval.
void add_stats_option(boost::program_options::options_description& d);
// --rate-limit and --rate-burst with their defaults and help.
void add_rate_options(boost::program_options::options_description& d, const char* default_limit,
                      const char* limit_help, const char* default_burst, const char* burst_help);
// --quiet (what it silences), --help and --version.
void add_quiet_help_version(boost::program_options::options_description& d, const char* quiet_help);

// What a command line asks for when it is not to run: help, the version, or an error line.
struct early_exit {
  parse_action what;
  std::string text;
};
// What --help says before the options: `intro` (usage, what the server does), then what it
// writes on stderr: its first line, then `log_lines` (the rest of "one timestamped line per").
struct server_help {
  const char* intro;
  const char* log_lines;
};
// Parses the command line into `vm`; nullopt when the server is to run. --help prints `help`,
// the options of `d` and the exit codes; --version prints `version_line`.
std::optional<early_exit> parse_command_line(int argc, const char* const argv[],
                                             const boost::program_options::options_description& d,
                                             boost::program_options::variables_map& vm, server_help help,
                                             const char* version_line);

// Reads --listen and the transport's options into `o`; a one-line error, or empty.
std::string read_listen_and_transport(const boost::program_options::variables_map& vm, server_app_options& o);
// Reads --stats-interval, and --quiet into `o`; a one-line error, or empty.
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

// A server's whole command line: `d` its options (the shared blocks and its own), `help` and
// `version_line` for --help and --version; then the shared options are read, and the app's
// own with `read_own(vm, options)` (a one-line error, or empty). `Options` derives from
// server_app_options and has rate_limit and rate_burst.
template <typename Options, typename ReadOwn>
parse_result<Options> parse_server_command_line(int argc, const char* const argv[],
                                                const boost::program_options::options_description& d,
                                                server_help help, const char* version_line, ReadOwn read_own) {
  boost::program_options::variables_map vm;
  if (auto early = parse_command_line(argc, argv, d, vm, help, version_line)) return parse_result_of<Options>(*early);
  parse_result<Options> r;
  std::string why = read_listen_and_transport(vm, r.options);
  if (why.empty()) why = read_own(vm, r.options);
  if (why.empty()) why = read_rate_options(vm, r.options.rate_limit, r.options.rate_burst);
  if (why.empty()) why = read_stats_and_quiet(vm, r.options);
  if (!why.empty()) return parse_failure<Options>(std::move(why));
  r.what = parse_action::run;
  return r;
}

}  // namespace punch::apps
