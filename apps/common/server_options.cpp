// The servers' shared command-line blocks (see server_options.hpp).
#include "server_options.hpp"

#include "server_common.hpp"
#include "transport_choice.hpp"

#include <boost/program_options.hpp>

#include <limits>
#include <sstream>

namespace punch::apps {
namespace {

namespace po = boost::program_options;

// A week: longer lifetimes or intervals are almost certainly a typo.
constexpr std::uint64_t max_seconds = 7 * 24 * 3600;

}  // namespace

namespace {

// The end of both servers' --help.
const char* const exit_codes_help =
    "\nExit codes:\n"
    "  0  stopped cleanly by SIGINT or SIGTERM (within a second, under load or idle)\n"
    "  1  runtime failure: cannot listen (address in use, not local), or the socket\n"
    "     failed while serving; one line on stderr says which\n"
    "  2  bad options, an unknown transport or a plugin that does not load: one line on\n"
    "     stderr names the option\n";

}  // namespace

po::options_description server_options(const server_text& s, std::span<const own_option> own) {
  po::options_description d{"Options"};
  // Values are taken as strings and checked below, so every message can name its option.
  d.add_options()("listen", po::value<std::string>()->value_name("ADDR:PORT")->default_value(s.listen.default_value),
                  s.listen.help);
  add_transport_options(
      d, "an option for the transport; repeatable (udp defaults: batch=64 receive-buffer=4194304 send-buffer=4194304)");
  for (const own_option& o : own)
    d.add_options()(o.name, po::value<std::string>()->value_name(o.value_name)->default_value(o.text.default_value),
                    o.text.help);
  d.add_options()
    ("rate-limit", po::value<std::string>()->value_name("N")->default_value(s.rate_limit.default_value),
     s.rate_limit.help)
    ("rate-burst", po::value<std::string>()->value_name("N")->default_value(s.rate_burst.default_value),
     s.rate_burst.help)
    ("stats-interval", po::value<std::string>()->value_name("SECONDS")->default_value("0"),
     "print a line of counters every SECONDS (0: never)")
    ("metrics", po::value<std::string>()->value_name("ADDR:PORT"),
     "serve Prometheus metrics over HTTP at http://ADDR:PORT/metrics ([V6]:PORT for IPv6; port 0 "
     "picks a free port, printed on the line after the first); the metrics are listed in "
     "docs/deployment.md, \"Metrics\". Keep ADDR private: the counters tell about the service")
    ("quiet,q", po::bool_switch(), s.quiet_help)
    ("help,h", "print this help and exit")
    ("version", "print the version and exit");
  return d;
}

std::optional<early_exit> parse_command_line(int argc, const char* const argv[], const po::options_description& d,
                                             po::variables_map& vm, const server_text& s) {
  try {
    po::store(po::command_line_parser(argc, argv).options(d).run(), vm);
  } catch (const po::error& e) {
    // Program_options' messages already name the option ("unrecognised option '--x'").
    return early_exit{parse_action::error, e.what()};
  }
  if (vm.count("help")) {
    std::ostringstream text;
    text << s.help.intro << "On stderr: a first line saying where it listens, then one timestamped line per\n"
         << s.help.log_lines << d << exit_codes_help;
    return early_exit{parse_action::help, text.str()};
  }
  if (vm.count("version")) return early_exit{parse_action::version, std::string(s.name) + " " PUNCH_VERSION_TEXT};
  return std::nullopt;
}

std::string read_listen_and_transport(const po::variables_map& vm, server_app_options& o) {
  std::string error;
  const auto& listen = vm["listen"].as<std::string>();
  auto ep = parse_endpoint(listen, error);
  if (!ep) return "--listen \"" + listen + "\": " + error;
  o.listen = *ep;
  return read_transport_options(vm, o.transport, o.transport_plugins, o.transport_settings);
}

std::optional<std::uint64_t> read_number(const po::variables_map& vm, const char* name, std::uint64_t min,
                                         std::uint64_t max, const char* expected, std::string& error) {
  const auto& text = vm[name].as<std::string>();
  auto v = parse_number(text, max);
  if (!v || *v < min) {
    error = std::string("--") + name + " \"" + text + "\": expected " + expected;
    return std::nullopt;
  }
  return v;
}

std::string read_count(const po::variables_map& vm, const char* name, std::size_t& into) {
  std::string error;
  auto n = read_number(vm, name, 1, std::numeric_limits<std::uint32_t>::max(), "a number from 1 to 4294967295", error);
  if (n) into = static_cast<std::size_t>(*n);
  return error;
}

std::string read_seconds(const po::variables_map& vm, const char* name, std::uint64_t min, std::chrono::seconds& into) {
  std::string error;
  auto s = read_number(vm, name, min, max_seconds,
                       min == 0 ? "seconds, from 0 (off) to 604800" : "seconds, from 1 to 604800", error);
  if (s) into = std::chrono::seconds(*s);
  return error;
}

std::string read_stats_and_quiet(const po::variables_map& vm, server_app_options& o) {
  o.quiet = vm["quiet"].as<bool>();
  if (vm.count("metrics")) {
    std::string error;
    const auto& text = vm["metrics"].as<std::string>();
    o.metrics = parse_endpoint(text, error);
    if (!o.metrics) return "--metrics \"" + text + "\": " + error;
  }
  return read_seconds(vm, "stats-interval", 0, o.stats_interval);
}

std::string read_rate_options(const po::variables_map& vm, std::uint32_t& limit, std::uint32_t& burst) {
  std::string error;
  for (auto [name, into] : {std::pair{"rate-limit", &limit}, std::pair{"rate-burst", &burst}}) {
    auto v = read_number(vm, name, 0, 100'000'000, "a number from 0 (no limit) to 100000000", error);
    if (!v) return error;
    *into = static_cast<std::uint32_t>(*v);
  }
  return {};
}

transport_options server_transport_settings(const server_app_options& o) {
  transport_options t = o.transport_settings;
  if (o.transport == "udp") {
    t.try_emplace("batch", "64");
    t.try_emplace("receive-buffer", "4194304");
    t.try_emplace("send-buffer", "4194304");
  }
  return t;
}

}  // namespace punch::apps
