// punch-relay's command line, parsed with Boost.Program_options and checked value by value.
#include "options.hpp"

#include "transport_choice.hpp"

#include "server_common.hpp"

#include <boost/program_options.hpp>

#include <charconv>
#include <limits>
#include <optional>
#include <sstream>
#include <string_view>

namespace punch::relay_app {
namespace {

namespace po = boost::program_options;

// A week: longer lifetimes or intervals are almost certainly a typo.
constexpr std::uint64_t max_seconds = 7 * 24 * 3600;

po::options_description make_description() {
  po::options_description d{"Options"};
  // Values are taken as strings and checked below, so every message can name its option.
  d.add_options()
    ("listen", po::value<std::string>()->value_name("ADDR:PORT")->default_value("0.0.0.0:3479"),
     "where to listen; IPv6 as [::]:3479; port 0 picks a free port (printed at start-up)");
  apps::add_transport_options(
      d, "an option for the transport; repeatable (udp defaults: batch=64 receive-buffer=4194304 send-buffer=4194304)");
  d.add_options()
    ("max-allocations", po::value<std::string>()->value_name("N")->default_value("10000"),
     "most allocations held at once (a pair of peers, or one waiting for the other); more are "
     "refused (508)")
    ("lifetime", po::value<std::string>()->value_name("SECONDS")->default_value("60"),
     "an allocation without traffic for this long is dropped; forwarded datagrams and ALLOCATE "
     "refresh it")
    ("rate-limit", po::value<std::string>()->value_name("N")->default_value("2000"),
     "datagrams per second each side of an allocation may have forwarded; beyond that (and the "
     "burst) they are dropped (0: no limit)")
    ("rate-burst", po::value<std::string>()->value_name("N")->default_value("4000"),
     "datagrams a side may send at once before --rate-limit applies (0: no limit)")
    ("stats-interval", po::value<std::string>()->value_name("SECONDS")->default_value("0"),
     "print a line of counters every SECONDS (0: never)")
    ("quiet,q", po::bool_switch(), "no line per allocation, pair and expiry")
    ("help,h", "print this help and exit")
    ("version", "print the version and exit");
  return d;
}

std::string help_text(const po::options_description& d) {
  std::ostringstream out;
  out << "Usage: punch-relay [--listen ADDR:PORT] [options]\n\n"
         "The punch relay: two peers that cannot punch a hole toward each other (symmetric NATs)\n"
         "both ALLOCATE here with the RELAY-ID they derive from their introduction, and the relay\n"
         "forwards every other datagram of one to the other, unchanged (their frames are sealed\n"
         "end to end: it sees ciphertext). A source proves its address with a NONCE before it\n"
         "gets any state, and nothing is sent to an address that did not allocate itself. The\n"
         "protocol is in docs/relay.md.\n\n"
         "On stderr: a first line saying where it listens, then one timestamped line per\n"
         "allocation, pair and expiry (unless --quiet), and the counters line (with\n"
         "--stats-interval).\n\n"
      << d
      << "\nExit codes:\n"
         "  0  stopped cleanly by SIGINT or SIGTERM\n"
         "  1  runtime failure: cannot listen (address in use, not local), or the socket\n"
         "     failed while serving; one line on stderr says which\n"
         "  2  bad options, an unknown transport or a plugin that does not load: one line on\n"
         "     stderr names the option\n";
  return out.str();
}

parse_result failure(std::string message) {
  parse_result r;
  r.what = parse_result::action::error;
  r.text = std::move(message);
  return r;
}


}  // namespace

transport_options transport_settings_for(const relay_app_options& o) {
  transport_options t = o.transport_settings;
  if (o.transport == "udp") {
    t.try_emplace("batch", "64");
    t.try_emplace("receive-buffer", "4194304");
    t.try_emplace("send-buffer", "4194304");
  }
  return t;
}

relay_options make_relay_options(const relay_app_options& o) {
  relay_options r;
  r.max_allocations = o.max_allocations;
  r.lifetime = o.lifetime;
  r.rate_limit = o.rate_limit;
  r.rate_burst = o.rate_burst;
  return r;
}

parse_result parse_options(int argc, const char* const argv[]) {
  auto description = make_description();
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(description).run(), vm);
  } catch (const po::error& e) {
    // Program_options' messages already name the option ("unrecognised option '--x'").
    return failure(e.what());
  }

  parse_result r;
  if (vm.count("help")) {
    r.what = parse_result::action::help;
    r.text = help_text(description);
    return r;
  }
  if (vm.count("version")) {
    r.what = parse_result::action::version;
    r.text = "punch-relay " PUNCH_VERSION_TEXT;
    return r;
  }

  relay_app_options& o = r.options;
  std::string error;
  const auto& listen = vm["listen"].as<std::string>();
  auto ep = apps::parse_endpoint(listen, error);
  if (!ep) return failure("--listen \"" + listen + "\": " + error);
  o.listen = *ep;

  if (auto why = apps::read_transport_options(vm, o.transport, o.transport_plugins, o.transport_settings); !why.empty())
    return failure(why);

  const auto& max = vm["max-allocations"].as<std::string>();
  auto n = apps::parse_number(max, std::numeric_limits<std::uint32_t>::max());
  if (!n || *n == 0) return failure("--max-allocations \"" + max + "\": expected a number from 1 to 4294967295");
  o.max_allocations = static_cast<std::size_t>(*n);

  const auto& lifetime = vm["lifetime"].as<std::string>();
  auto l = apps::parse_number(lifetime, max_seconds);
  if (!l || *l == 0) return failure("--lifetime \"" + lifetime + "\": expected seconds, from 1 to 604800");
  o.lifetime = std::chrono::seconds(*l);

  for (auto [name, into] : {std::pair{"rate-limit", &o.rate_limit}, std::pair{"rate-burst", &o.rate_burst}}) {
    const auto& text = vm[name].as<std::string>();
    auto v = apps::parse_number(text, 100'000'000);
    if (!v) return failure(std::string("--") + name + " \"" + text + "\": expected a number from 0 (no limit) to 100000000");
    *into = static_cast<std::uint32_t>(*v);
  }

  const auto& interval = vm["stats-interval"].as<std::string>();
  auto s = apps::parse_number(interval, max_seconds);
  if (!s) return failure("--stats-interval \"" + interval + "\": expected seconds, from 0 (off) to 604800");
  o.stats_interval = std::chrono::seconds(*s);

  o.quiet = vm["quiet"].as<bool>();
  r.what = parse_result::action::run;
  return r;
}

}  // namespace punch::relay_app
