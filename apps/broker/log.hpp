// punch-broker's log: timestamped lines on stderr, and the text of each event and counter.
#pragma once

#include "server_common.hpp"

#include "punch/broker.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace punch::broker_app {

// The timestamped line on stderr (apps/common/server_common.hpp).
using apps::log_line;

// "registered alice at 203.0.113.5:40000 (lifetime 60 s)", "introduced alice → bob (token
// 3fa2…)", ...; empty for events not worth a line (refreshes happen every keepalive).
std::string event_text(const broker_event& e);

// One line of counters for --stats-interval.
std::string stats_text(const broker_stats& s, std::size_t registrations);

}  // namespace punch::broker_app
