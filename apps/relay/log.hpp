// punch-relay's log text: one line per allocation event and the counters line. The lines go
// out through apps::log_line (timestamped, on stderr).
#pragma once

#include "punch/relay.hpp"

#include <cstddef>
#include <string>

namespace punch::relay_app {

// "allocated 3fa2… for 203.0.113.5:40000", "paired 3fa2…: A ↔ B", "expired 3fa2… (A ↔ B)".
// Only the first two bytes of the RELAY-ID: enough to match the peers' logs.
std::string event_text(const relay_event& e);

// One line of counters for --stats-interval.
std::string stats_text(const relay_stats& s, std::size_t allocations);

}  // namespace punch::relay_app
