// Port mapping on the default gateway (private header): what a protocol client returns, the
// gateway and our address toward it, the protocol clients (PCP over the session's transport;
// NAT-PMP and UPnP IGD through the transport when it offers them, else over the operating
// system's sockets), and the mapper that tries them in order, renews the grant and deletes it
// on close.
#pragma once

#include "punch/clock.hpp"
#include "punch/session.hpp"
#include "punch/transport.hpp"
#include "session/fail.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace punch::detail {

// A mapping a gateway granted: where the outside reaches our socket, for how long, and the
// gateway's epoch (PCP and NAT-PMP: seconds since its mapping state began; RFC 6887 §8.5).
struct port_grant {
  endpoint external;
  std::chrono::seconds lifetime{0};  // upnp: 0 is a permanent lease, never renewed
  std::optional<std::chrono::seconds> epoch;
  std::string protocol;  // "pcp", "natpmp", "upnp"
  bool after_restart = false;  // asked again because the epoch showed the gateway restarted
};

// The IPv4 default gateway in the text of /proc/net/route (the row whose destination and mask
// are 0, with the gateway flag), if any.
std::optional<asio::ip::address> parse_default_gateway(std::string_view route_table);
// The same, read from /proc/net/route.
std::optional<asio::ip::address> default_gateway();
// Which of our host addresses the gateway sees us at: the one sharing the longest prefix with
// it (the gateway is on our link). Unspecified when none is of its family.
asio::ip::address address_toward(const asio::ip::address& gateway, const std::vector<endpoint>& hosts);

// RFC 6887 §8.5: false when the gateway's epoch shows that it lost its state since the last
// answer (its clock went back, or moved on far less than ours did).
bool epoch_continues(clock::time_point previous_at, std::chrono::seconds previous_epoch, clock::time_point now,
                     std::chrono::seconds epoch);

// How stop() ends the exchange under way: each client sets it for the exchange's duration
// (and clears it after), to something that wakes its wait at once.
using abort_hook = std::function<void()>;
// Sets `hook` to `abort` for the lifetime of the guard.
struct abort_guard {
  abort_guard(abort_hook& hook, abort_hook abort) : hook_(hook) { hook_ = std::move(abort); }
  ~abort_guard() { hook_ = nullptr; }
  abort_guard(const abort_guard&) = delete;
  abort_guard& operator=(const abort_guard&) = delete;
  abort_hook& hook_;
};

// What one protocol client is asked.
struct mapping_request {
  asio::ip::address gateway;
  asio::ip::address client;  // our address as the gateway sees it
  std::uint16_t internal_port = 0;
  std::uint16_t suggested_external_port = 0;  // the port granted before, when renewing
  std::chrono::seconds lifetime{0};           // 0: delete
  std::chrono::milliseconds timeout{0};
};

// PCP MAP (RFC 6887 §11) over a socket of `t`, so that it runs on the simulated network too:
// retransmitted on RFC 6887 §8.1.1's schedule, shortened (first after 250 ms, doubling) and
// cut at request.timeout. errc::port_mapping_unanswered (silence), errc::port_mapping_refused
// (an error answer: the message names its result code), errc::pcp_unsupported_version (a
// NAT-PMP gateway answered).
asio::awaitable<outcome<port_grant>> pcp_map(transport& t, punch::clock& time, const mapping_request& request,
                                             const std::array<std::byte, 12>& nonce, abort_hook& abort);
// NAT-PMP (RFC 6886) through libnatpmp, its socket waited on by asio: real UDP only.
asio::awaitable<outcome<port_grant>> natpmp_map(const mapping_request& request, abort_hook& abort);
// NAT-PMP or UPnP IGD ("natpmp", "upnp") asked through the transport, when it offers them
// (transport::maps_ports): bounded by request.timeout; a UPnP lease of 0 granted is permanent.
asio::awaitable<outcome<port_grant>> transport_map(transport& t, punch::clock& time, const std::string& protocol,
                                                   const mapping_request& request, abort_hook& abort);
// UPnP IGD through miniupnpc, whose calls block: run on a thread of their own, the result
// posted back to the executor. Real UDP only.
asio::awaitable<outcome<port_grant>> upnp_map(const mapping_request& request, abort_hook& abort);

// Asks the gateway, in order PCP, NAT-PMP, UPnP, renews the grant at half its lifetime (and
// asks again at once when the epoch shows a restart), and deletes it on stop().
class port_mapper : public std::enable_shared_from_this<port_mapper> {
public:
  // Called on the executor with every grant (first, renewed, asked again) and, once, when no
  // protocol granted a mapping.
  using report = std::function<void(const outcome<port_grant>&)>;
  port_mapper(transport& t, punch::clock& time, port_mapping_options options, std::uint16_t internal_port,
              std::vector<endpoint> hosts, report on_report);
  // Starts run() on the transport's executor: the first request, then the renewals, until stop().
  void start();
  // Ends run() and deletes the granted mapping (lifetime 0), without waiting for the answer.
  void stop();

private:
  asio::awaitable<void> run();
  asio::awaitable<outcome<port_grant>> ask(std::chrono::seconds lifetime);
  asio::awaitable<outcome<port_grant>> ask_with(const std::string& protocol, const mapping_request& r);
  std::chrono::milliseconds timeout_of(std::string_view protocol) const;

  transport& net_;
  punch::clock& time_;
  port_mapping_options options_;
  std::uint16_t internal_port_;
  std::vector<endpoint> hosts_;
  report on_report_;
  punch::timer timer_;
  abort_hook abort_;  // ends the exchange under way (stop())
  bool stopped_ = false;
  std::optional<mapping_request> base_;
  std::optional<port_grant> granted_;
  clock::time_point granted_at_{};
  std::array<std::byte, 12> nonce_{};
};

}  // namespace punch::detail
