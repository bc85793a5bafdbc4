// The session's state made (socket, identity, broker links, host candidates) and shut down
// (every wait woken, every connection told, every socket closed).
#include "session/session_state.hpp"

#include "session/connection_state.hpp"
#include "session/host_candidates.hpp"
#include "session/port_mapper.hpp"

#include <sodium.h>

namespace punch::detail {

session_state::session_state(transport& t, session_options o)
    : net(t),
      ex(t.get_executor()),
      time(o.clock ? *o.clock : steady_clock()),
      options(std::move(o)),
      grid(tick_grid_of(options)),
      me(options.key ? *options.key : identity::generate()),
      socket(t.open(options.local)),
      nat_settled(ex, time),
      turn_settled(ex, time),
      keepalive_timer(ex, time),
      accept_ready(ex, time) {
  // A start-up failure: the constructor throws.
  if (sodium_init() < 0) throw system_error(make_error_code(errc::crypto_init_failed), "libsodium failed to initialise");
  if (options.allow_aes_gcm && crypto_aead_aes256gcm_is_available()) ciphers |= wire::cipher::aes256gcm;
  brokers.push_back({options.broker, options.broker_other_family});
  brokers.insert(brokers.end(), options.fallback_brokers.begin(), options.fallback_brokers.end());
  use_broker(0);
  host_candidates = options.host_candidates.empty() ? detail::gather_host_candidates(net, socket.local_endpoint())
                                                    : options.host_candidates;
  if (host_candidates.size() > wire::max_host_candidates) host_candidates.resize(wire::max_host_candidates);
}

void session_state::shutdown() {
  if (closed) return;
  closed = true;
  keepalive_timer.cancel();
  // Deletes the mapping on the gateway (lifetime 0), unawaited.
  if (mapper) mapper->stop();
  for (auto& [id, tx] : requests) tx->done.fire();
  for (auto& [token, a] : punches) {
    a->done.fire();
    a->nominated.fire();
  }
  for (auto& [tag, weak] : connections)
    if (auto c = weak.lock(); c && c->open) {
      c->send_farewell();
      c->mark_closed(make_error_code(errc::session_closed), "connection to \"" + c->peer + "\" ended: session closed", false);
    }
  // Punched connections nobody accepted: they hold this state, and it holds them.
  for (auto& c : backlog) {
    c->send_farewell();
    c->mark_closed(make_error_code(errc::session_closed), "connection from \"" + c->peer + "\" not accepted: session closed", false);
  }
  backlog.clear();
  accept_ready.fire();
  nat_settled.fire();
  turn_settled.fire();
  for (auto& [token, a] : punches)
    for (auto& sock : a->spray)
      if (sock) sock->close();
  release_turn();
  socket.close();
}

}  // namespace punch::detail
