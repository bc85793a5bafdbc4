// punch-relay's log text (see log.hpp).
#include "log.hpp"

#include "server_common.hpp"

#include <sstream>

namespace punch::relay_app {
using apps::id_prefix;

std::string event_text(const relay_event& e) {
  std::ostringstream out;
  switch (e.what) {
    case relay_event::kind::allocated: out << "allocated " << id_prefix(e.id) << " for " << e.a; break;
    case relay_event::kind::paired: out << "paired " << id_prefix(e.id) << ": " << e.a << " ↔ " << e.b; break;
    case relay_event::kind::expired:
      out << "expired " << id_prefix(e.id) << " (" << e.a;
      if (e.b.port() != 0) out << " ↔ " << e.b;
      out << ')';
      break;
    case relay_event::kind::taken_over:
      out << "taken over " << id_prefix(e.id) << ": " << e.a << " → " << e.b << " (that peer moved)";
      break;
  }
  return out.str();
}

std::string stats_text(const relay_stats& s, std::size_t allocations) {
  std::ostringstream out;
  out << "allocations " << allocations << " (created " << s.allocations << ", paired " << s.pairs << ", expired "
      << s.expired << "), forwarded " << s.forwarded << " (" << s.forwarded_bytes << " bytes), dropped: unknown "
      << s.dropped_unknown << ", unpaired " << s.dropped_unpaired << ", rate-limited " << s.rate_limited
      << ", oversized " << s.oversized << "; ALLOCATE: challenges " << s.challenges << ", rejected " << s.rejected
      << ", bad " << s.bad_requests << ", unanswered " << s.unanswered << ", rate-limited "
      << s.allocate_rate_limited;
  return out.str();
}

}  // namespace punch::relay_app
