// punch-demo's command line.
#pragma once

#include "punch/plugins/sim/nat_behaviour.hpp"

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <variant>

namespace punch_demo {

// A NAT in front of a peer; no behaviour means the peer has a public address.
struct nat_choice {
  std::string name;  // as given: "none", "symmetric", ...
  std::optional<punch::sim::nat_behaviour> behaviour;
};

struct options {
  std::uint64_t seed = 1;
  std::chrono::milliseconds latency{20};  // one-way, per link
  double loss = 0.0;                      // per link
  nat_choice nat_alice;
  nat_choice nat_bob;
  bool quiet = false;                     // only the result
  bool relay = true;                      // a punch::relay to fall back on (--no-relay: none)
};

// The options, or the exit code to leave with: 0 after --help, 2 after a bad option (the
// message is on `err`).
std::variant<options, int> parse_options(int argc, const char* const argv[], std::ostream& out,
                                         std::ostream& err);

}  // namespace punch_demo
