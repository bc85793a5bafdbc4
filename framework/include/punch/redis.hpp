// Brokers sharing a registry in Redis (punch-broker --redis): where the Redis server is (a URL
// and its parser) and make_redis_cluster, the punch::cluster that keeps the registrations and
// passes introductions through it. docs/deployment.md, "Several brokers on Redis", says how
// the data is laid out and why pub/sub carries the introductions.
#pragma once

#include "punch/export.hpp"

#include "punch/cluster.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace punch {

// A Redis server: TCP (host, port) or a unix socket (path), with the credentials and the
// database to use on it.
struct PUNCH_EXPORT redis_address {
  enum class kind { tcp, unix_socket };
  kind type = kind::tcp;
  std::string host;          // tcp: a name, an IPv4 or an IPv6 address (without brackets)
  std::uint16_t port = 6379; // tcp
  std::string path;          // unix_socket
  std::string user;          // empty: AUTH with the password only (the "default" user)
  std::string password;      // empty: no AUTH
  std::uint32_t db = 0;      // SELECTed after connecting when not 0
};

// What parse_redis_url found: an address, or why the text is not one.
struct PUNCH_EXPORT redis_url_result {
  std::optional<redis_address> address;
  std::string error;  // one line naming the part that is wrong, when there is no address
};

// Parses
//   redis://[[user]:password@]host[:port][/db]           (host: a name, 1.2.3.4 or [::1])
//   redis+unix://[[user]:password@]/path/to/socket[?db=N]
// User and password may carry %XX escapes (a password with '@', ':' or '/'). Never throws.
PUNCH_EXPORT redis_url_result parse_redis_url(std::string_view url);

// The URL of `a`, password shown as "***": for logs.
PUNCH_EXPORT std::string to_string(const redis_address& a);

// False when punch was built without hiredis (PUNCH_REDIS=OFF, or AUTO without it): then
// make_redis_cluster throws.
PUNCH_EXPORT bool redis_supported() noexcept;

struct PUNCH_EXPORT redis_cluster_options {
  std::string name;                  // this broker's name in the cluster (required, unique)
  std::string prefix = "punch:";     // of every key and channel this cluster uses
  // A command without an answer for this long means the store is down (e.g. a stopped
  // process): everything in flight fails with errc::cluster_unavailable and it reconnects.
  std::chrono::milliseconds command_timeout{1000};
  // Reconnects wait from the first to the second, doubling, each jittered by ±25%.
  std::chrono::milliseconds reconnect_min{100};
  std::chrono::milliseconds reconnect_max{5000};
  // Commands awaiting their answer; beyond it operations fail at once with
  // errc::cluster_overloaded (counted in cluster_stats::dropped): no queue grows unbounded.
  std::size_t max_in_flight = 65536;
};

// A cluster member on `ex` (the broker's executor) talking to the Redis server at `where`:
// nothing is connected until start(). Throws std::invalid_argument for an empty name, and
// system_error(errc::cluster_unavailable) when punch was built without Redis support.
PUNCH_EXPORT std::unique_ptr<cluster> make_redis_cluster(asio::any_io_executor ex, const redis_address& where,
                                                         redis_cluster_options options);

}  // namespace punch
