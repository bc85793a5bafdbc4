// Events as one readable line each.
#include "punch/plugins/sim/event.hpp"

#include <iomanip>
#include <ostream>
#include <sstream>

namespace punch::sim {

std::string_view to_string(event_kind k) noexcept {
  switch (k) {
    case event_kind::sent: return "sent";
    case event_kind::delivered: return "delivered";
    case event_kind::lost: return "lost";
    case event_kind::mapping_created: return "mapping created";
    case event_kind::mapping_expired: return "mapping expired";
    case event_kind::filtered: return "filtered";
    case event_kind::hairpinned: return "hairpinned";
    case event_kind::hairpin_dropped: return "hairpin dropped";
    case event_kind::unreachable: return "unreachable";
    case event_kind::no_socket: return "no socket";
    case event_kind::queue_full: return "queue full";
  }
  return "?";
}

std::string event::to_string() const {
  std::ostringstream out;
  if (packet != 0) out << '#' << packet << ' ';
  const auto flow = [&] { out << from << " -> " << to; };
  switch (kind) {
    case event_kind::sent:
      out << node << " sent ";
      flow();
      out << " (" << bytes << " bytes)";
      break;
    case event_kind::delivered:
      out << "delivered to " << node << ": ";
      flow();
      out << " (" << bytes << " bytes";
      if (delay.count() != 0) out << ", after " << std::fixed << std::setprecision(3)
                                  << static_cast<double>(delay.count()) / 1000.0 << " ms";
      out << ')';
      break;
    case event_kind::lost:
      out << "lost on the link of " << node << ": ";
      flow();
      break;
    case event_kind::mapping_created:
      out << node << " mapped " << inside << " => " << external << " (for " << remote << ')';
      break;
    case event_kind::mapping_expired:
      out << node << " expired mapping " << inside << " => " << external << " (made for "
          << remote << ')';
      break;
    case event_kind::filtered:
      out << node << " filtered ";
      flow();
      out << ": " << reason;
      break;
    case event_kind::hairpinned:
      out << node << " hairpinned ";
      flow();
      break;
    case event_kind::hairpin_dropped:
      out << node << " dropped ";
      flow();
      out << ": " << reason;
      break;
    case event_kind::unreachable:
      out << "unreachable ";
      flow();
      out << ": " << reason;
      break;
    case event_kind::no_socket:
      out << node << " has no socket on port " << to.port() << ": dropped ";
      flow();
      break;
    case event_kind::queue_full:
      out << node << ": receive queue of " << to << " is full: dropped ";
      flow();
      break;
  }
  return out.str();
}

std::ostream& operator<<(std::ostream& out, const event& e) { return out << e.to_string(); }

}  // namespace punch::sim
