// Peer failover (docs/deployment.md, "Peer failover"): a session's brokers (options.broker,
// then options.fallback_brokers), the one it uses now, registering at the first that answers,
// and the move to the next one when the current broker stops answering. Established
// connections never notice: they do not need the broker.
#include "session/session_state.hpp"

#include "session/fail.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <algorithm>
#include <sstream>

namespace punch::detail {

using detail::fail;

namespace {

std::string brokers_text(const std::vector<endpoint>& tried) {
  std::ostringstream s;
  for (std::size_t i = 0; i < tried.size(); ++i) s << (i ? ", " : "") << tried[i];
  return s.str();
}

}  // namespace

void session_state::use_broker(std::size_t i) {
  const broker_link old_main = broker_main;
  const std::optional<broker_link> old_alt = broker_alt;
  const std::optional<endpoint> old_other = other_address;
  broker_index = i;
  const broker_address& b = brokers[i];
  broker_main = broker_link{b.address, {}, {}};
  broker_alt.reset();
  // Only a dual-stack socket ("::") reaches both families.
  if (b.other_family) {
    const endpoint local = socket.local_endpoint();
    const bool dual = local.address().is_v6() && local.address().is_unspecified();
    if (dual && b.other_family->address().is_v4() != b.address.address().is_v4())
      broker_alt = broker_link{*b.other_family, {}, {}};
  }
  // Learned from this broker's own answer (OTHER-ADDRESS): another broker's second port
  // would measure our NAT against the wrong server.
  other_address.reset();
  for (auto& [id, tx] : requests) {
    const bool to_old = tx->to == old_main.to || (old_alt && tx->to == old_alt->to) || (old_other && tx->to == *old_other);
    if (to_old && !is_broker(tx->to)) {
      tx->abandoned = true;
      tx->done.fire();
    }
  }
}

asio::awaitable<detail::outcome<registration_info>> session_state::register_in_turn(
    std::size_t skip, std::chrono::milliseconds per_broker, bool any_failure_moves_on) {
  auto self = shared_from_this();
  const std::size_t first = broker_index;
  // Kept whole, so that a failover that finds nobody leaves the current broker's nonce and
  // credential as they were.
  const broker_link kept_main = broker_main;
  const std::optional<broker_link> kept_alt = broker_alt;
  const std::optional<endpoint> kept_other = other_address;
  std::vector<endpoint> tried;
  std::optional<detail::failure> last;
  for (std::size_t k = skip; k < brokers.size() && !closed; ++k) {
    const std::size_t i = (first + k) % brokers.size();
    if (i != broker_index) use_broker(i);
    const auto deadline = time.now() + per_broker;
    auto info = co_await do_register(deadline);
    if (!info) {
      tried.push_back(broker_main.to);
      if (!any_failure_moves_on && info.error().code != errc::broker_unreachable) co_return std::move(info).error();
      last = std::move(info).error();
      continue;
    }
    // Measured once, beside the registration rather than before its completion: the
    // measurement and the refresh that tells the broker take a round trip each, and only
    // connect() needs them (it waits on nat_settled). The refresh is sent even without a
    // measurement: it proves to the broker that we receive where a first-datagram Register
    // claimed, and until then the broker sends Introduces for us only once (docs/security.md).
    const bool measure = options.discover_nat && nat == nat_mapping::unknown && other_address;
    if (measure)
      nat_settled.reset();
    else
      nat_settled.fire();
    asio::co_spawn(ex, discover_beside(*info, time.now() + options.request_timeout, measure), asio::detached);
    co_await register_other_family(*info, deadline);
    co_return std::move(info);
  }
  if (broker_index != first) {
    use_broker(first);
    broker_main = kept_main;
    broker_alt = kept_alt;
    other_address = kept_other;
  }
  if (closed) co_return fail(errc::session_closed, "registering \"" + options.id + "\": session closed");
  if (tried.size() == 1 && last) co_return std::move(*last);  // its own message says it all
  if (tried.empty()) co_return fail(errc::broker_unreachable, "registering \"" + options.id + "\": no other broker to try");
  co_return fail(last ? last->code : make_error_code(errc::broker_unreachable),
                 "registering \"" + options.id + "\": no broker took us: " + brokers_text(tried) + " (each given " +
                     std::to_string(per_broker.count()) + " ms" + "; the last said: " + (last ? last->what : std::string("nothing")) + ")");
}

asio::awaitable<bool> session_state::fail_over() {
  if (failing_over || brokers.size() < 2 || closed) co_return false;
  auto self = shared_from_this();
  failing_over = true;
  struct done_failing_over {
    session_state& s;
    ~done_failing_over() { s.failing_over = false; }
  } guard{*this};
  const auto silent_since = last_broker_answer;
  auto info = co_await register_in_turn(1, options.request_timeout, true);
  // Nobody answered: the keepalive tries the current broker, then the others, again.
  if (!info || closed) co_return false;
  // Another broker sees us from another address (a NAT that maps per destination): that is
  // not a move of ours, so connections are not told to check their paths.
  registration = *info;
  emit({.what = session_event::kind::broker_changed,
        .peer = options.id,
        .address = info->broker,
        .elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(time.now() - silent_since),
        .error = make_error_code(errc::broker_unreachable)});
  co_return true;
}

std::chrono::milliseconds session_state::refresh_budget() const {
  const auto whole = std::min<std::chrono::milliseconds>(options.request_timeout, options.keepalive);
  if (brokers.size() < 2) return whole;
  // Registering at the next broker: Register, its nonce challenge, the signed Register; as
  // many again for the other family. Twice the last round trip to the broker we leave, as
  // the next may be farther; at least one first retransmission timeout.
  const int round_trips = broker_alt ? 4 : 2;
  auto reserve = std::max(options.request_rto, 2 * round_trips * broker_rtt);
  reserve = std::min(reserve, options.request_timeout / 2);
  return std::min<std::chrono::milliseconds>(whole, options.request_timeout - reserve);
}

}  // namespace punch::detail
