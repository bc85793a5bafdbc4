// The session's side of port mapping: the mapper started beside the first registration, each
// grant announced to the broker as our MAPPED-CANDIDATE (late_candidates.cpp) and then
// reported (session_event port_mapped), and the mapping deleted when the session closes.
#include "session/session_state.hpp"

#include "session/port_mapper.hpp"

namespace punch::detail {

void session_state::start_port_mapping() {
  if (!options.port_mapping.enabled || mapper || closed) return;
  std::weak_ptr<session_state> weak = weak_from_this();
  mapper = std::make_shared<port_mapper>(
      net, time, options.port_mapping, socket.local_endpoint().port(), host_candidates,
      [weak](const outcome<port_grant>& r) {
        if (auto s = weak.lock(); s && !s->closed) s->on_port_mapping(r);
      });
  mapper->start();
}

void session_state::on_port_mapping(const outcome<port_grant>& r) {
  if (!r) {
    mapped.reset();
    emit({.what = session_event::kind::port_mapped, .peer = options.id, .error = r.error().code,
          .detail = r.error().what});
    return;
  }
  mapped = r->external;
  announce_late({.what = session_event::kind::port_mapped, .peer = options.id, .address = r->external,
                 .detail = r->protocol + (r->after_restart ? " (gateway restarted)" : ""), .lifetime = r->lifetime},
                pending_mapping_event, announced_mapped == mapped);
}

}  // namespace punch::detail
