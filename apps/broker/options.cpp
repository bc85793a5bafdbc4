// punch-broker's command line, parsed with Boost.Program_options and checked value by value.
#include "options.hpp"

#include "server_common.hpp"

#include "transport_choice.hpp"

#include <boost/program_options.hpp>

#include <algorithm>
#include <charconv>
#include <limits>
#include <sstream>

namespace punch::broker_app {
namespace {

using apps::parse_endpoint;
using apps::parse_number;

namespace po = boost::program_options;

// A week: longer lifetimes or intervals are almost certainly a typo.
constexpr std::uint64_t max_seconds = 7 * 24 * 3600;

po::options_description make_description() {
  po::options_description d{"Options"};
  // Values are taken as strings and checked below, so every message can name its option.
  d.add_options()
    ("listen", po::value<std::string>()->value_name("ADDR:PORT")->default_value("0.0.0.0:3478"),
     "where to listen; IPv6 as [::]:3478, which also serves IPv4 (dual-stack: peers register "
     "over both families); port 0 picks a free port (printed at start-up)");
  apps::add_transport_options(
      d, "an option for the transport; repeatable (udp defaults: batch=64 receive-buffer=4194304 send-buffer=4194304)");
  d.add_options()
    ("max-peers", po::value<std::string>()->value_name("N")->default_value("100000"),
     "most registrations held at once; more are refused (508)")
    ("lifetime-max", po::value<std::string>()->value_name("SECONDS")->default_value("600"),
     "longest registration lifetime granted; longer requests are cut to it")
    ("stats-interval", po::value<std::string>()->value_name("SECONDS")->default_value("0"),
     "print a line of counters every SECONDS (0: never)")
    ("rate-limit", po::value<std::string>()->value_name("N")->default_value("100"),
     "datagrams per second a source address may send; beyond that (and the burst) they are "
     "dropped unanswered (0: no limit)")
    ("rate-burst", po::value<std::string>()->value_name("N")->default_value("200"),
     "datagrams a source address may send at once before --rate-limit applies (0: no limit)")
    ("other-port", po::value<std::string>()->value_name("PORT")->default_value("0"),
     "also answer Binding on PORT of the same address, so that peers can tell an easy NAT from "
     "a hard (symmetric) one and two hard ones go to their relay at once (0: no second port)")
    ("threads", po::value<std::string>()->value_name("N")->default_value("1"),
     "serve with N threads (udp only): one socket each on the same port (SO_REUSEPORT), one io_context "
     "each, one registry shared by all")
    ("quiet,q", po::bool_switch(), "no line per registration and introduction")
    ("help,h", "print this help and exit")
    ("version", "print the version and exit");
  return d;
}

std::string help_text(const po::options_description& d) {
  std::ostringstream out;
  out << "Usage: punch-broker [--listen ADDR:PORT] [options]\n\n"
         "The punch rendezvous broker: answers STUN Binding requests (any standard STUN client\n"
         "learns its reflexive address), registers peers by id, and introduces two registered\n"
         "peers to each other so that they can punch holes toward each other at once. The\n"
         "protocol is in docs/protocol.md.\n\n"
         "On stderr: a first line saying where it listens, then one timestamped line per\n"
         "registration, expiry and introduction (unless --quiet), and the counters line\n"
         "(with --stats-interval).\n\n"
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


transport_options transport_settings_for(const broker_app_options& o) {
  transport_options t = o.transport_settings;
  if (o.transport == "udp") {
    t.try_emplace("batch", "64");
    t.try_emplace("receive-buffer", "4194304");
    t.try_emplace("send-buffer", "4194304");
    if (o.threads > 1) t.insert_or_assign("reuse-port", "true");
  }
  return t;
}

broker_options make_broker_options(const broker_app_options& o) {
  broker_options b;
  b.max_lifetime = o.lifetime_max;
  b.min_lifetime = std::min(b.min_lifetime, b.max_lifetime);
  b.default_lifetime = std::min(b.default_lifetime, b.max_lifetime);
  b.rate_limit = o.rate_limit;
  b.rate_burst = o.rate_burst;
  return b;
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
    r.text = "punch-broker " PUNCH_VERSION_TEXT;
    return r;
  }

  broker_app_options& o = r.options;
  std::string error;
  const auto& listen = vm["listen"].as<std::string>();
  auto ep = parse_endpoint(listen, error);
  if (!ep) return failure("--listen \"" + listen + "\": " + error);
  o.listen = *ep;

  if (auto why = apps::read_transport_options(vm, o.transport, o.transport_plugins, o.transport_settings); !why.empty())
    return failure(why);

  const auto& peers = vm["max-peers"].as<std::string>();
  auto n = parse_number(peers, std::numeric_limits<std::uint32_t>::max());
  if (!n || *n == 0) return failure("--max-peers \"" + peers + "\": expected a number from 1 to 4294967295");
  o.max_peers = static_cast<std::size_t>(*n);

  const auto& lifetime = vm["lifetime-max"].as<std::string>();
  auto l = parse_number(lifetime, max_seconds);
  if (!l || *l == 0) return failure("--lifetime-max \"" + lifetime + "\": expected seconds, from 1 to 604800");
  o.lifetime_max = std::chrono::seconds(*l);

  const auto& interval = vm["stats-interval"].as<std::string>();
  auto s = parse_number(interval, max_seconds);
  if (!s) return failure("--stats-interval \"" + interval + "\": expected seconds, from 0 (off) to 604800");
  o.stats_interval = std::chrono::seconds(*s);

  const auto& threads = vm["threads"].as<std::string>();
  auto t = parse_number(threads, 64);
  if (!t || *t == 0) return failure("--threads \"" + threads + "\": expected a number from 1 to 64");
  o.threads = static_cast<std::size_t>(*t);
  if (o.threads > 1 && o.transport != "udp") return failure("--threads: more than one needs the udp transport");

  for (auto [name, into] : {std::pair{"rate-limit", &o.rate_limit}, std::pair{"rate-burst", &o.rate_burst}}) {
    const auto& text = vm[name].as<std::string>();
    auto v = parse_number(text, 100'000'000);
    if (!v) return failure(std::string("--") + name + " \"" + text + "\": expected a number from 0 (no limit) to 100000000");
    *into = static_cast<std::uint32_t>(*v);
  }

  const auto& other = vm["other-port"].as<std::string>();
  auto op = parse_number(other, 65535);
  if (!op) return failure("--other-port \"" + other + "\": expected a port from 0 (none) to 65535");
  if (*op != 0 && *op == o.listen.port()) return failure("--other-port " + other + ": that is the --listen port");
  o.other_port = static_cast<std::uint16_t>(*op);

  o.quiet = vm["quiet"].as<bool>();
  r.what = parse_result::action::run;
  return r;
}

}  // namespace punch::broker_app
