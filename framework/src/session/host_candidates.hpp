// Gathering our host candidates: the addresses a peer on the same LAN (or behind the same
// NAT, without hairpinning) reaches us at (private header).
#pragma once

#include "punch/transport.hpp"

#include <vector>

namespace punch::detail {

// Host candidates: the socket's own address, or the transport's interface addresses when it
// is bound to the unspecified address (0.0.0.0: IPv4 ones; the dual-stack ::, both).
std::vector<endpoint> gather_host_candidates(transport& t, const endpoint& local);

}  // namespace punch::detail
