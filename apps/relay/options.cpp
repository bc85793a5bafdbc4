// punch-relay's command line, parsed with Boost.Program_options and checked value by value.
#include "options.hpp"

#include <boost/program_options.hpp>

namespace punch::relay_app {
namespace {

namespace po = boost::program_options;

// The options only the relay has, between --listen's and --rate-limit in --help.
const apps::own_option own_options[] = {
    {"max-allocations", "N",
     {"10000", "most allocations held at once (a pair of peers, or one waiting for the other); more are "
               "refused (508)"}},
    {"lifetime", "SECONDS",
     {"60", "an allocation without traffic for this long is dropped; forwarded datagrams and ALLOCATE "
            "refresh it"}},
};

// Reads the options only the relay has; a one-line error, or empty.
std::string read_relay_options(const po::variables_map& vm, relay_app_options& o) {
  std::string why = apps::read_count(vm, "max-allocations", o.max_allocations);
  if (why.empty()) why = apps::read_seconds(vm, "lifetime", 1, o.lifetime);
  return why;
}

const apps::server_description<relay_app_options> description{
    {"punch-relay",
     {"Usage: punch-relay [--listen ADDR:PORT] [options]\n\n"
      "The punch relay: two peers that cannot punch a hole toward each other (symmetric NATs)\n"
      "both ALLOCATE here with the RELAY-ID they derive from their introduction, and the relay\n"
      "forwards every other datagram of one to the other, unchanged (their frames are sealed\n"
      "end to end: it sees ciphertext). A source proves its address with a NONCE before it\n"
      "gets any state, and nothing is sent to an address that did not allocate itself. The\n"
      "protocol is in docs/relay.md.\n\n",
      // What it logs, after "one timestamped line per".
      "allocation, pair and expiry (unless --quiet), and the counters line (with\n"
      "--stats-interval).\n\n"},
     {"0.0.0.0:3479", "where to listen; IPv6 as [::]:3479; port 0 picks a free port (printed at start-up)"},
     {"2000",
      "datagrams per second each side of an allocation may have forwarded; beyond that (and the "
      "burst) they are dropped (0: no limit)"},
     {"4000", "datagrams a side may send at once before --rate-limit applies (0: no limit)"},
     "no line per allocation, pair and expiry"},
    own_options,
    read_relay_options};

}  // namespace

transport_options transport_settings_for(const relay_app_options& o) { return apps::server_transport_settings(o); }

relay_options make_relay_options(const relay_app_options& o) {
  auto r = apps::settings_with_rate_limit<relay_options>(o);
  r.max_allocations = o.max_allocations;
  r.lifetime = o.lifetime;
  return r;
}

parse_result parse_options(int argc, const char* const argv[]) {
  return apps::parse_server_command_line(argc, argv, description);
}

}  // namespace punch::relay_app
