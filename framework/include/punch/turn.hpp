// Relaying through a standard TURN server (RFC 8656): how a session names one
// (session_options::turn_servers) and the time-limited "TURN REST API" credentials that a
// shared secret derives (coturn's use-auth-secret / static-auth-secret), which an operator's
// backend can hand out to its peers with turn_rest_credentials.
#pragma once

#include "punch/export.hpp"

#include <boost/asio/ip/udp.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace punch {

// A username and password for a TURN server's long-term credential mechanism (RFC 8489 §9.2).
struct PUNCH_EXPORT turn_credentials {
  std::string username;
  std::string password;
};

// The TURN REST API credentials (draft-uberti-behave-turn-rest, as coturn implements it):
//   username = "<expiry as Unix seconds>:<user>"  (just the expiry when `user` is empty)
//   password = base64(HMAC-SHA1(secret, username))
// expiry = now + ttl. The TURN server recomputes the password from its copy of the secret and
// refuses the username once the expiry has passed. Throws nothing.
PUNCH_EXPORT turn_credentials turn_rest_credentials(std::string_view secret, std::string_view user,
                                                    std::chrono::seconds ttl,
                                                    std::chrono::system_clock::time_point now);

// One TURN server a session may relay through (UDP only: no TLS, DTLS or TCP allocations).
struct PUNCH_EXPORT turn_server {
  enum class credentials_kind {
    long_term,  // `user` and `password` as the server's user database holds them
    rest,       // `password` is the shared secret; each allocation derives fresh credentials
  };
  boost::asio::ip::udp::endpoint address;
  credentials_kind kind = credentials_kind::long_term;
  std::string user;
  std::string password;  // the password, or the shared secret for `rest`
  std::chrono::seconds rest_ttl{std::chrono::hours(24)};  // for `rest`: how long the credentials last

  // The credentials to present now (for `rest`, derived from the secret and the system clock).
  turn_credentials credentials_at(std::chrono::system_clock::time_point now) const;
};

}  // namespace punch
