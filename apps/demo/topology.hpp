// The demo's network: a public broker, alice behind NAT A, bob behind NAT B.
#pragma once

#include "narrator.hpp"
#include "options.hpp"

#include "punch/plugins/sim/network.hpp"

namespace punch_demo {

struct cast {
  punch::sim::host& broker;
  punch::sim::host& alice;
  punch::sim::host& bob;
};

// broker 203.0.113.10 on the internet; alice 10.0.1.2 behind nat-a (198.51.100.1) and bob
// 10.0.2.2 behind nat-b (198.51.100.2). A peer without a NAT takes the NAT's public address.
// Every link gets the options' latency and loss.
cast build_topology(punch::sim::network& net, const options& o);

void describe(const narrator& say, const cast& c, const options& o);

}  // namespace punch_demo
