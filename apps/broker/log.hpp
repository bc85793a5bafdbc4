// punch-broker's log: timestamped lines on stderr, and the text of each event and counter.
#pragma once

#include "punch/broker.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace punch::broker_app {

// Writes "2026-11-24T18:13:38.123Z <text>" to stderr and flushes it, so that a script that
// reads the first line (where we listen) gets it at once.
void log_line(std::string_view text);

// "registered alice at 203.0.113.5:40000 (lifetime 60 s)", "introduced alice → bob (token
// 3fa2…)", ...; empty for events not worth a line (refreshes happen every keepalive).
std::string event_text(const broker_event& e);

// One line of counters for --stats-interval.
std::string stats_text(const broker_stats& s, std::size_t registrations);

}  // namespace punch::broker_app
