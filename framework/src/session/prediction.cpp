// Port prediction: a direct path between a hard NAT (a new external port for every
// destination) and an easy one whose filtering admits only the address and port it has sent
// to (port-restricted cone), where plain hole punching fails: the hard side's check arrives
// from a port the easy side never sent to, and the easy side's check goes to the hard side's
// broker mapping, which admits only the broker.
//
// The hard side opens many sockets, each a new mapping toward the easy side's reflexive
// address, and checks from all of them; the easy side sends checks to many ports of the
// hard side's address. A probe that hits one of those mappings reaches its socket (the
// mapping admits the easy side), and opens the easy side's filter for that port, so the
// socket's next check gets through too. docs/nat-traversal.md has the numbers.
#include "session/session_state.hpp"

#include "session/connection_state.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sodium.h>

#include <algorithm>
#include <array>

namespace punch::detail {

namespace {

// The hard side repeats a check from every socket this often: a probe that arrived before
// the socket's mapping existed has opened the easy side's filter for it all the same.
constexpr std::chrono::milliseconds spray_gap{250};
// The easy side sends its probes in small batches this often (the rate is the option's).
constexpr std::chrono::milliseconds probe_tick{10};
// NATs allocate external ports from here up (Linux's default range for ports >= 1024).
constexpr std::uint32_t lowest_port = 1024;
constexpr std::uint32_t port_count = 65536 - lowest_port;

// The n-th port to probe: even probes walk the ports after the peer's known mapping (NATs that
// allocate in sequence have handed out the ones just after it since), odd ones are random
// (NATs that allocate at random: every port is as likely as any other).
std::uint16_t probe_port(std::uint16_t known, std::size_t n) {
  if (n % 2 == 1) return static_cast<std::uint16_t>(lowest_port + randombytes_uniform(port_count));
  const std::uint32_t offset = (std::uint32_t{known} < lowest_port ? 0 : known - lowest_port) + 1 + n / 2;
  return static_cast<std::uint16_t>(lowest_port + offset % port_count);
}

}  // namespace

asio::awaitable<void> session_state::predict(std::shared_ptr<punch_attempt> a) {
  auto self = shared_from_this();
  const auto& p = options.prediction;
  punch::timer timer(ex, time);
  timer.expires_at(*a->prediction_start);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  if (closed || a->finished || a->direct()) co_return;
  if (!co_await prediction_applies(*a)) {
    a->prediction_start.reset();  // the relay need not leave it time
    co_return;
  }
  a->prediction_start = time.now();  // the relay leaves it its two seconds from here
  const auto until = time.now() + p.duration;
  if (nat == nat_mapping::endpoint_dependent)
    co_await spray(a, until);
  else
    co_await probe(a, until);
}

// One NAT hard and the other easy, as far as is known once prediction is due. Our own mapping
// may still be under measurement (a lost Binding is sent again): wait for it, at most one
// prediction's duration. The peer's may not have reached the broker when it introduced us (the
// peer had registered a moment before): ask the broker again, one round trip.
asio::awaitable<bool> session_state::prediction_applies(punch_attempt& a) {
  const auto deadline = time.now() + options.prediction.duration;
  if (nat == nat_mapping::unknown) co_await nat_settled.wait_until(deadline);
  if (a.peer_nat == nat_mapping::unknown && !closed) {
    auto r = co_await look_up(a.peer, deadline, "looking up \"" + a.peer + "\" again for its NAT's mapping");
    if (r) a.peer_nat = r->nat;
  }
  if (closed || a.finished || a.direct() || nat == nat_mapping::unknown || a.peer_nat == nat_mapping::unknown)
    co_return false;
  co_return (nat == nat_mapping::endpoint_dependent) != (a.peer_nat == nat_mapping::endpoint_dependent);
}

asio::awaitable<void> session_state::spray(std::shared_ptr<punch_attempt> a, clock::time_point until) {
  const endpoint target = a->peer_reflexive;
  const endpoint local{socket.local_endpoint().address(), 0};
  for (std::size_t i = 0; i < options.prediction.sockets && !closed; ++i) {
    error_code ec;
    auto s = net.open(local, ec);
    if (ec) break;  // out of descriptors or ports: predict with what we have
    a->spray.push_back(std::make_shared<datagram_socket>(std::move(s)));
    asio::co_spawn(ex, spray_receive(a, a->spray.size(), a->spray.back()), asio::detached);
  }
  punch::timer timer(ex, time);
  while (!closed && !a->finished && !a->direct() && time.now() < until) {
    for (std::size_t via = 1; via <= a->spray.size() && !a->direct() && !a->finished; ++via)
      co_await send_check(*a, {target, path_kind::predicted, via}, false);
    timer.expires_after(spray_gap);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  // A nomination of a prediction socket's pair may still be under way (the upgrade).
  for (int i = 0; i < 20 && a->upgrading && !closed; ++i) {
    timer.expires_after(std::chrono::milliseconds(50));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  prune_spray(*a);
  forget_prediction_checks(*a);
}

asio::awaitable<void> session_state::probe(std::shared_ptr<punch_attempt> a, clock::time_point until) {
  a->probing = true;
  const auto& p = options.prediction;
  const std::size_t per_tick = std::max<std::size_t>(1, p.probes_per_second * probe_tick.count() / 1000);
  punch::timer timer(ex, time);
  std::size_t sent = 0;
  while (!closed && !a->finished && !a->direct() && time.now() < until && sent < p.probes) {
    for (std::size_t k = 0; k < per_tick && sent < p.probes && !a->direct(); ++k, ++sent) {
      const endpoint to{a->peer_reflexive.address(), probe_port(a->peer_reflexive.port(), sent)};
      if (to != a->peer_reflexive) co_await send_check(*a, {to, path_kind::predicted, 0}, false);
    }
    timer.expires_after(probe_tick);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  forget_prediction_checks(*a);
}

// A prediction socket's own receive loop: checks, check answers and data frames of its
// attempt, nothing else (the broker never talks to it).
asio::awaitable<void> session_state::spray_receive(std::weak_ptr<punch_attempt> owner, std::size_t via,
                                                   std::shared_ptr<datagram_socket> s) {
  auto self = shared_from_this();
  std::array<std::byte, 1536> buf;
  endpoint from;
  int consecutive_errors = 0;
  while (!closed && s->is_open()) {
    auto [ec, n] = co_await s->async_receive_from(asio::buffer(buf), from, asio::as_tuple(asio::use_awaitable));
    const auto next = judge(ec, *s, consecutive_errors);
    if (next == after_receive::stop) break;
    if (next == after_receive::skip) continue;
    auto a = owner.lock();
    if (!a) break;
    from = unmapped(from);
    const std::span<std::byte> d(buf.data(), n);
    if (wire::looks_like_frame(d)) {
      handle_frame(d, from, via, a.get());
      continue;
    }
    if (!stun::looks_like_stun(d)) continue;
    error_code perr;
    auto m = stun::message::parse(d, perr);
    if (!m || m->method() != wire::method::binding) continue;
    if (m->cls() == stun::message_class::request)
      co_await handle_check_request(*m, from, via, a.get());
    else if (m->cls() == stun::message_class::success_response)
      handle_check_response(*m, from, via);
  }
}

// Thousands of unanswered checks would otherwise wait in `checks` for as long as the
// connection lives; a late answer to one is of no use once prediction is over.
void session_state::forget_prediction_checks(punch_attempt& a) {
  std::erase_if(a.checks, [&](const stun::transaction_id& id) {
    auto it = checks.find(id);
    if (it == checks.end()) return true;
    if (it->second.target.kind != path_kind::predicted) return false;
    checks.erase(it);
    return true;
  });
}

void session_state::prune_spray(punch_attempt& a) {
  const auto conn = a.conn.lock();
  for (std::size_t i = 0; i < a.spray.size(); ++i) {
    const std::size_t via = i + 1;
    const bool used = (a.selected && a.selected->via == via) || (conn && conn->via == via);
    if (a.spray[i] && !used) {
      a.spray[i]->close();
      a.spray[i].reset();
    }
  }
}

}  // namespace punch::detail
