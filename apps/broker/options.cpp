// punch-broker's command line, parsed with Boost.Program_options and checked value by value.
#include "options.hpp"

#include <boost/program_options.hpp>

#include <unistd.h>

#include <algorithm>
#include <array>

namespace punch::broker_app {
namespace {

namespace po = boost::program_options;

// The options only the broker has, between --listen's and --rate-limit in --help.
const apps::own_option own_options[] = {
    {"max-peers", "N", {"100000", "most registrations held at once; more are refused (508)"}},
    {"lifetime-max", "SECONDS", {"600", "longest registration lifetime granted; longer requests are cut to it"}},
    {"other-port", "PORT",
     {"0", "also answer Binding on PORT of the same address, so that peers can tell an easy NAT from "
           "a hard (symmetric) one and two hard ones go to their relay at once (0: no second port)"}},
    {"threads", "N",
     {"1", "serve with N threads (udp only): one socket each on the same port (SO_REUSEPORT), one "
           "io_context each, one registry shared by all; not with --redis"}},
    {"redis", "URL",
     {"", "share the registry with the other brokers on this Redis (docs/deployment.md): "
          "redis://[[user]:password@]host[:port][/db] or redis+unix://[[user]:password@]/path/to/socket[?db=N]; "
          "one thread only (--threads 1): run one broker process per core instead (empty: this broker alone)"}},
    {"name", "NAME",
     {"", "this broker's name among those sharing --redis, unique to each (empty: HOST:PORT, this host's "
          "name and the port it listens on)"}},
};

// --redis and --name: the URL checked now, with the parser's reason.
std::string read_cluster_options(const po::variables_map& vm, broker_app_options& o) {
  const auto& url = vm["redis"].as<std::string>();
  o.name = vm["name"].as<std::string>();
  if (o.name.size() > 255) return "--name: at most 255 bytes";
  if (url.empty()) {
    if (!o.name.empty()) return "--name names this broker in a cluster: it needs --redis";
    return {};
  }
  auto parsed = parse_redis_url(url);
  if (!parsed.address) return "--redis: " + parsed.error;
  if (!redis_supported()) return "--redis: this punch-broker was built without Redis support (hiredis, PUNCH_REDIS)";
  if (o.threads > 1)
    return "--redis: one thread only (--threads " + std::to_string(o.threads) +
           "); run one punch-broker per core, each with its own --name";
  o.redis = std::move(parsed.address);
  return {};
}

// Reads the options only the broker has; a one-line error, or empty.
std::string read_broker_options(const po::variables_map& vm, broker_app_options& o) {
  if (auto why = apps::read_count(vm, "max-peers", o.max_peers); !why.empty()) return why;
  if (auto why = apps::read_seconds(vm, "lifetime-max", 1, o.lifetime_max); !why.empty()) return why;
  std::string error;
  auto t = apps::read_number(vm, "threads", 1, 64, "a number from 1 to 64", error);
  if (!t) return error;
  o.threads = static_cast<std::size_t>(*t);
  if (o.threads > 1 && o.transport != "udp") return "--threads: more than one needs the udp transport";
  auto op = apps::read_number(vm, "other-port", 0, 65535, "a port from 0 (none) to 65535", error);
  if (!op) return error;
  if (*op != 0 && *op == o.listen.port())
    return "--other-port " + vm["other-port"].as<std::string>() + ": that is the --listen port";
  o.other_port = static_cast<std::uint16_t>(*op);
  return read_cluster_options(vm, o);
}

const apps::server_description<broker_app_options> description{
    {"punch-broker",
     {"Usage: punch-broker [--listen ADDR:PORT] [options]\n\n"
      "The punch rendezvous broker: answers STUN Binding requests (any standard STUN client\n"
      "learns its reflexive address), registers peers by id, and introduces two registered\n"
      "peers to each other so that they can punch holes toward each other at once. The\n"
      "protocol is in docs/protocol.md.\n\n",
      // What it logs, after "one timestamped line per".
      "registration, expiry and introduction (unless --quiet), and the counters line\n"
      "(with --stats-interval).\n\n"},
     {"0.0.0.0:3478",
      "where to listen; IPv6 as [::]:3478, which also serves IPv4 (dual-stack: peers register "
      "over both families); port 0 picks a free port (printed at start-up)"},
     {"100",
      "datagrams per second a source address may send; beyond that (and the burst) they are "
      "dropped unanswered (0: no limit)"},
     {"200", "datagrams a source address may send at once before --rate-limit applies (0: no limit)"},
     "no line per registration and introduction"},
    own_options,
    read_broker_options};

}  // namespace

transport_options transport_settings_for(const broker_app_options& o) {
  transport_options t = apps::server_transport_settings(o);
  if (o.transport == "udp" && o.threads > 1) t.insert_or_assign("reuse-port", "true");
  return t;
}

std::string cluster_name_for(const broker_app_options& o, std::uint16_t listening_port) {
  if (!o.name.empty()) return o.name;
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0) host = {'b', 'r', 'o', 'k', 'e', 'r'};
  return std::string(host.data()) + ":" + std::to_string(listening_port);
}

broker_options make_broker_options(const broker_app_options& o) {
  auto b = apps::settings_with_rate_limit<broker_options>(o);
  b.max_lifetime = o.lifetime_max;
  b.min_lifetime = std::min(b.min_lifetime, b.max_lifetime);
  b.default_lifetime = std::min(b.default_lifetime, b.max_lifetime);
  // Each broker has its own replay cache: a first-datagram Register replayed to another thread
  // or another broker of the cluster would verify there (docs/security.md, "Limits we know
  // of"). Those deployments register over the NONCE, as before.
  if (o.threads > 1 || o.redis) b.timestamp_window = std::chrono::seconds(0);
  return b;
}

parse_result parse_options(int argc, const char* const argv[]) {
  return apps::parse_server_command_line(argc, argv, description);
}

}  // namespace punch::broker_app
