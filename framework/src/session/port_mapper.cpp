// The port mapper: asks the gateway for a mapping of the session's port (PCP, then NAT-PMP,
// then UPnP IGD, each bounded), renews it at half its lifetime, asks again at once when the
// gateway's epoch shows a restart (RFC 6887 §8.5, RFC 6886 §3.6), and deletes it on stop().
#include "session/port_mapper.hpp"

#include "session/random_ids.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sodium.h>

namespace punch::detail {

namespace {

// After a failed renewal: try again this soon, while the mapping may still be alive.
constexpr std::chrono::seconds mapping_retry_after{5};
// The least time between two renewals, whatever lifetime a gateway grants.
constexpr std::chrono::seconds shortest_mapping_renewal{2};

}  // namespace

port_mapper::port_mapper(transport& t, punch::clock& time, port_mapping_options options, std::uint16_t internal_port,
                         std::vector<endpoint> hosts, report on_report)
    : net_(t),
      time_(time),
      options_(std::move(options)),
      internal_port_(internal_port),
      hosts_(std::move(hosts)),
      on_report_(std::move(on_report)),
      timer_(t.get_executor(), time) {
  randombytes_buf(nonce_.data(), nonce_.size());
}

asio::awaitable<outcome<port_grant>> port_mapper::ask_with(const std::string& protocol, const mapping_request& r) {
  if (protocol == "pcp") co_return co_await pcp_map(net_, time_, r, nonce_, abort_);
  if (net_.maps_ports(protocol)) co_return co_await transport_map(net_, time_, protocol, r, abort_);
  if (protocol == "natpmp") co_return co_await natpmp_map(r, abort_);
  co_return co_await upnp_map(r, abort_);
}

std::chrono::milliseconds port_mapper::timeout_of(std::string_view protocol) const {
  return protocol == "pcp" ? options_.pcp_timeout : protocol == "natpmp" ? options_.natpmp_timeout : options_.upnp_timeout;
}

asio::awaitable<outcome<port_grant>> port_mapper::ask(std::chrono::seconds lifetime) {
  mapping_request r = *base_;
  r.lifetime = lifetime;
  // A renewal asks the protocol that granted, for the port it granted.
  if (granted_) {
    r.suggested_external_port = granted_->external.port();
    r.timeout = timeout_of(granted_->protocol);
    co_return co_await ask_with(granted_->protocol, r);
  }
  // libnatpmp and miniupnpc speak over the operating system's sockets: only over real UDP,
  // unless the transport asks its gateways itself.
  const bool real = net_.name() == "udp";
  std::string tried;
  failure last = fail(errc::port_mapping_unanswered, "");
  bool refused = false;
  for (const char* p : {"pcp", "natpmp", "upnp"}) {
    if (stopped_) break;
    if (std::string_view(p) != "pcp" && !real && !net_.maps_ports(p)) continue;
    r.timeout = timeout_of(p);
    auto g = co_await ask_with(p, r);
    if (g) co_return g;
    refused = refused || g.error().code == errc::port_mapping_refused;
    tried += (tried.empty() ? "" : "; ") + g.error().what;
    last = std::move(g).error();
  }
  co_return fail(refused ? errc::port_mapping_refused : errc::port_mapping_unanswered,
                 tried.empty() ? last.what : tried);
}

void port_mapper::start() {
  asio::co_spawn(net_.get_executor(), run(), asio::detached);
}

asio::awaitable<void> port_mapper::run() {
  auto self = shared_from_this();
  // The machine's routing table says nothing about a simulated network: there, only the
  // gateway the options name is asked.
  const auto gateway = options_.gateway ? options_.gateway : net_.name() == "udp" ? default_gateway() : std::nullopt;
  if (!gateway) {
    on_report_(fail(errc::no_gateway, "port mapping: no default gateway (none set, none in /proc/net/route)"));
    co_return;
  }
  const auto client = address_toward(*gateway, hosts_);
  if (client.is_unspecified()) {
    on_report_(fail(errc::no_gateway, "port mapping: no address of ours in the family of gateway " + gateway->to_string()));
    co_return;
  }
  base_ = mapping_request{*gateway, client, internal_port_, 0, options_.lifetime, {}};
  auto first = co_await ask(options_.lifetime);
  if (stopped_) co_return;
  on_report_(first);
  if (!first) co_return;
  granted_ = *first;
  granted_at_ = time_.now();
  // A permanent UPnP lease needs no renewal (and UPnP has no epoch to watch): deleted on stop().
  while (!stopped_ && granted_->lifetime.count() != 0) {
    const auto half = std::max<std::chrono::seconds>(granted_->lifetime / 2, shortest_mapping_renewal);
    timer_.expires_after(half);
    co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopped_) break;
    auto renewed = co_await ask(options_.lifetime);
    if (stopped_) break;
    if (!renewed) {
      // The mapping may still hold: keep it, and try again soon, until its lifetime is over.
      if (time_.now() - granted_at_ >= granted_->lifetime) {
        on_report_(renewed);
        granted_.reset();
        co_return;
      }
      timer_.expires_after(mapping_retry_after);
      co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    const bool restarted = granted_->epoch && renewed->epoch &&
                           !epoch_continues(granted_at_, *granted_->epoch, time_.now(), *renewed->epoch);
    granted_ = *renewed;
    granted_at_ = time_.now();
    if (restarted) {
      // RFC 6887 §8.5: the gateway lost its state; ask for the mapping again from scratch,
      // which may now be another port.
      auto again = co_await ask(options_.lifetime);
      if (stopped_) break;
      if (again) {
        granted_ = *again;
        granted_at_ = time_.now();
        granted_->after_restart = true;
        on_report_(*granted_);
        continue;
      }
    }
    on_report_(*granted_);
  }
}

void port_mapper::stop() {
  if (stopped_) return;
  stopped_ = true;
  timer_.cancel();
  if (abort_) abort_();
  if (!granted_ || !base_) return;
  // RFC 6887 §15, RFC 6886 §3.4: lifetime 0 deletes the mapping. Once, bounded, unawaited.
  auto self = shared_from_this();
  asio::co_spawn(net_.get_executor(), [self]() -> asio::awaitable<void> {
    mapping_request r = *self->base_;
    r.lifetime = std::chrono::seconds(0);
    r.suggested_external_port = self->granted_->external.port();
    r.timeout = std::min(self->options_.pcp_timeout, std::chrono::milliseconds(500));
    (void)co_await self->ask_with(self->granted_->protocol, r);  // sets abort_, which nothing calls now
  }, asio::detached);
}

}  // namespace punch::detail
