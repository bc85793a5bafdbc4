// punch-broker's log lines (see log.hpp).
#include "log.hpp"

#include <sstream>

namespace punch::broker_app {
using apps::id_prefix;

std::string event_text(const broker_event& e) {
  std::ostringstream out;
  switch (e.what) {
    case broker_event::kind::registered:
      out << "registered " << e.id << " at " << e.address << " (lifetime " << e.lifetime.count() << " s)";
      break;
    case broker_event::kind::refreshed:
      return {};
    case broker_event::kind::expired:
      out << "expired " << e.id << " (was at " << e.address << ")";
      break;
    case broker_event::kind::introduced:
      out << "introduced " << e.id << " → " << e.target << " (token " << id_prefix(e.token) << ")";
      break;
    case broker_event::kind::introduce_failed:
      out << "introducing " << e.id << " → " << e.target << " failed: " << e.target
          << " did not acknowledge (token " << id_prefix(e.token) << ")";
      break;
    case broker_event::kind::store_down:
      out << "shared registry down: serving this broker's own peers only (as " << e.id << ")";
      break;
    case broker_event::kind::store_up:
      out << "shared registry up again: claiming this broker's registrations again (as " << e.id << ")";
      break;
  }
  return out.str();
}

std::string stats_text(const broker_stats& s, std::size_t registrations) {
  std::ostringstream out;
  out << "stats: " << registrations << " registered; received " << s.received << " (in " << s.batches
      << " batches), rate-limited "
      << s.rate_limited << ", malformed " << s.malformed << ", bindings " << s.bindings
      << ", registrations " << s.registrations << " (refreshes " << s.refreshes << ", signatures verified "
      << s.signatures_verified << ", challenges " << s.challenges << ", auth failed " << s.auth_failed
      << "), lookups " << s.lookups << ", connects " << s.connects
      << ", introductions " << s.introductions << " (acked " << s.introductions_acked << ", failed "
      << s.introductions_failed << "), errors sent " << s.errors_sent;
  // A broker of a cluster (--redis): a single broker's store stays "connecting", all zero.
  if (s.store != cluster_state::connecting || s.claims != 0 || s.claims_local != 0) {
    const char* state = s.store == cluster_state::up ? "up" : s.store == cluster_state::down ? "down" : "connecting";
    out << "; shared registry " << state << " (down " << s.store_downs << " times): claims " << s.claims << " (refused " << s.claims_refused
        << ", local only " << s.claims_local << ", again " << s.reclaims << ", again refused " << s.reclaims_refused
        << "), cluster lookups " << s.cluster_lookups << " (not found " << s.cluster_misses << "), remote connects "
        << s.remote_connects << ", introductions forwarded " << s.introductions_forwarded << ", taken "
        << s.introductions_taken << ", unavailable " << s.store_unavailable << ", busy " << s.cluster_busy
        << ", waiting " << s.cluster_waiting;
  }
  return out.str();
}

}  // namespace punch::broker_app
