// The session's side of port mapping: the mapper started beside the first registration, each
// grant announced to the broker as our MAPPED-CANDIDATE (a Register that carries it) and then
// reported (session_event port_mapped), and the mapping deleted when the session closes.
#include "session/session_state.hpp"

#include "session/port_mapper.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

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
  session_event e{.what = session_event::kind::port_mapped, .peer = options.id, .address = r->external,
                  .detail = r->protocol + (r->after_restart ? " (gateway restarted)" : ""), .lifetime = r->lifetime};
  // Before our first registration ends, that registration tells it (mapping_registered);
  // after, a Register of its own.
  if (!registered) {
    pending_mapping_event = std::move(e);
    return;
  }
  if (announced_mapped == mapped) return emit(std::move(e));
  asio::co_spawn(ex, announce_mapping(std::move(e)), asio::detached);
}

void session_state::mapping_registered() {
  if (!pending_mapping_event) return;
  auto e = std::move(*pending_mapping_event);
  pending_mapping_event.reset();
  // The grant came while our Register was on its way, without it.
  if (announced_mapped != mapped) {
    asio::co_spawn(ex, announce_mapping(std::move(e)), asio::detached);
    return;
  }
  emit(std::move(e));
}

asio::awaitable<void> session_state::announce_mapping(session_event e) {
  auto self = shared_from_this();
  const auto deadline = time.now() + options.request_timeout;
  auto info = co_await do_register(deadline);
  if (closed) co_return;
  // Not announced (the broker did not answer): the keepalive's next refresh carries it. The
  // event still says what the router granted: `error` is for no grant at all.
  if (info) {
    co_await register_other_family(*info, deadline);
    registration = *info;
  }
  emit(std::move(e));
}

}  // namespace punch::detail
