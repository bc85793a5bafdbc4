// The first step of a server with a request (server module): the source's rate-limit token,
// taken before any parsing so that a flood from one address costs a hash and a bucket, then
// the STUN parse.
#pragma once

#include "server/rate_limit.hpp"

#include "punch/wire/stun.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>

namespace punch::detail {

struct intake {
  endpoint source;  // the datagram's source, unmapped (IPv4 as IPv4)
  bool rate_limited = false;
  std::optional<stun::message> msg;  // empty when rate-limited or not valid STUN (then `ec` says why)
  error_code ec;
};

// `from` is the source as the socket reports it; a datagram over its source's rate is
// counted in `rate_limited` and not parsed.
inline intake take_in(rate_limiter& limiter, const endpoint& from, std::chrono::steady_clock::time_point now,
                      std::span<const std::byte> datagram, std::uint64_t& rate_limited) {
  intake in;
  in.source = unmapped(from);
  if (!limiter.admit(in.source.address(), now)) {
    ++rate_limited;
    in.rate_limited = true;
    return in;
  }
  in.msg = stun::message::parse(datagram, in.ec);
  return in;
}

}  // namespace punch::detail
