// punch-relay's command line, parsed with Boost.Program_options and checked value by value.
#include "options.hpp"

#include <boost/program_options.hpp>


namespace punch::relay_app {
namespace {

namespace po = boost::program_options;

po::options_description make_description() {
  po::options_description d{"Options"};
  apps::add_listen_and_transport_options(
      d, "0.0.0.0:3479", "where to listen; IPv6 as [::]:3479; port 0 picks a free port (printed at start-up)");
  d.add_options()
    ("max-allocations", po::value<std::string>()->value_name("N")->default_value("10000"),
     "most allocations held at once (a pair of peers, or one waiting for the other); more are "
     "refused (508)")
    ("lifetime", po::value<std::string>()->value_name("SECONDS")->default_value("60"),
     "an allocation without traffic for this long is dropped; forwarded datagrams and ALLOCATE "
     "refresh it");
  apps::add_rate_options(d, "2000",
                         "datagrams per second each side of an allocation may have forwarded; beyond that (and the "
                         "burst) they are dropped (0: no limit)",
                         "4000", "datagrams a side may send at once before --rate-limit applies (0: no limit)");
  apps::add_stats_option(d);
  apps::add_quiet_help_version(d, "no line per allocation, pair and expiry");
  return d;
}

// --help before the options: usage and what the server does.
const char* const intro =
    "Usage: punch-relay [--listen ADDR:PORT] [options]\n\n"
    "The punch relay: two peers that cannot punch a hole toward each other (symmetric NATs)\n"
    "both ALLOCATE here with the RELAY-ID they derive from their introduction, and the relay\n"
    "forwards every other datagram of one to the other, unchanged (their frames are sealed\n"
    "end to end: it sees ciphertext). A source proves its address with a NONCE before it\n"
    "gets any state, and nothing is sent to an address that did not allocate itself. The\n"
    "protocol is in docs/relay.md.\n\n";
// What it logs, after "one timestamped line per".
const char* const log_lines =
    "allocation, pair and expiry (unless --quiet), and the counters line (with\n"
    "--stats-interval).\n\n";

// The options only the relay has; a one-line error, or empty.
std::string read_relay_options(const po::variables_map& vm, relay_app_options& o) {
  std::string why = apps::read_count(vm, "max-allocations", o.max_allocations);
  if (why.empty()) why = apps::read_seconds(vm, "lifetime", 1, o.lifetime);
  return why;
}

}  // namespace

transport_options transport_settings_for(const relay_app_options& o) { return apps::server_transport_settings(o); }

relay_options make_relay_options(const relay_app_options& o) {
  relay_options r;
  r.max_allocations = o.max_allocations;
  r.lifetime = o.lifetime;
  r.rate_limit = o.rate_limit;
  r.rate_burst = o.rate_burst;
  return r;
}

parse_result parse_options(int argc, const char* const argv[]) {
  return apps::parse_server_command_line<relay_app_options>(argc, argv, make_description(), {intro, log_lines},
                                                        "punch-relay " PUNCH_VERSION_TEXT, read_relay_options);
}

}  // namespace punch::relay_app
