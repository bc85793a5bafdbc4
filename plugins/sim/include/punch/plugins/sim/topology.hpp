// The vocabulary of a simulated topology: realms (address spaces), links and the clock.
#pragma once

#include "punch/clock.hpp"

#include <chrono>
#include <compare>
#include <cstdint>

namespace punch::sim {

// The clock the network reads: its virtual clock, or the one it was given (network.hpp).
using clock = punch::clock;

// An address space: the public internet, or the private side of one NAT box.
// Two hosts talk directly only when they are in the same realm.
struct realm {
  std::uint32_t id = 0;
  friend auto operator<=>(const realm&, const realm&) = default;
};

// The attachment of a host to its realm, or of a NAT box to its outside realm.
// A datagram pays the latency and jitter of every link it crosses, and may be lost on each.
struct link {
  std::chrono::microseconds latency{0};
  // Extra delay drawn uniformly from [0, jitter] per datagram per crossing.
  std::chrono::microseconds jitter{0};
  // Probability in [0, 1] that a datagram crossing this link is dropped.
  double loss = 0.0;
};

}  // namespace punch::sim
