// Private: validation of link settings, shared by hosts and NAT boxes.
#pragma once

#include "punch/plugins/sim/topology.hpp"

#include <stdexcept>
#include <string>
#include <string_view>

namespace punch::sim::detail {

// Topology mistakes are programming errors in the test or app that builds the network.
inline void check_link(const link& l, std::string_view owner) {
  if (l.latency.count() < 0 || l.jitter.count() < 0) {
    throw std::invalid_argument("sim: the link of " + std::string(owner) +
                                " has a negative latency or jitter");
  }
  if (!(l.loss >= 0.0 && l.loss <= 1.0)) {
    throw std::invalid_argument("sim: the link of " + std::string(owner) +
                                " has a loss probability outside [0, 1]");
  }
}

}  // namespace punch::sim::detail
