// A Register taken on its first datagram (docs/protocol.md, "TIMESTAMP"): signed over a
// TIMESTAMP of the peer's wall clock instead of a NONCE of ours. Freshness comes from the
// window around our clock, uniqueness from the replay cache, as WireGuard's handshake takes
// its initiation on a TAI64N timestamp. Everything that fails, and everything while we are
// busy, gets the NONCE challenge: the peer then registers the old way, one round trip later.
#include "broker/broker_state.hpp"

namespace punch {

using namespace detail;

namespace {

// |a - b| ≤ window, in milliseconds since 1970, without overflow.
bool within(std::uint64_t a, std::uint64_t b, std::chrono::seconds window) {
  const std::uint64_t gap = a > b ? a - b : b - a;
  return gap <= static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(window).count());
}

}  // namespace

std::span<const std::byte> broker::impl::on_timestamped(const request& r, registration_record& entry,
                                                        std::chrono::seconds lifetime, const stun::attribute& stamp) {
  error_code ec;
  const auto ts = stamp.value.size() == wire::timestamp_size ? stun::decode_u64(stamp, ec) : std::nullopt;
  if (!ts) return error(r, wire::error::bad_request, "bad TIMESTAMP");
  // Cheapest first: the clock, the load, then a hash, and the signature only when all pass.
  // A spoofed source sees none of the challenges, so it cannot get further.
  const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(wall_time(time()).time_since_epoch());
  if (options.timestamp_window.count() <= 0 || !within(*ts, static_cast<std::uint64_t>(wall.count()), options.timestamp_window)) {
    ++stats.stale_timestamps;
    return challenge(r, wire::error::unauthenticated, "stale timestamp");
  }
  // Cookie mode: the NONCE first proves the source before it may cost us a verification. Even
  // the replay cache's hash waits: a busy broker spends nothing more on an unproven source.
  if (busy(r.now)) {
    ++stats.cookie_challenges;
    return challenge(r, wire::error::unauthenticated, "busy");
  }
  auto sig = r.msg.find(wire::attr::signature);
  const auto signed_bytes = sig ? r.msg.covered_by(wire::attr::signature, covered) : std::nullopt;
  if (!signed_bytes) return challenge(r, wire::error::unauthenticated, "unsigned");
  const auto digest = replay_cache::of(*signed_bytes, sig->value);
  if (replays.contains(digest, r.now)) {
    // Our answer was lost and the peer sent the same bytes again, from where we registered
    // it: answer again. From anywhere else these bytes are a replay; they move nothing.
    const bool retransmitted = reg.find(entry.id(), r.now, found_b) && found_b.key == entry.key &&
                               found_b.reflexive == r.source;
    if (retransmitted) {
      entry.nonce_time = found_b.nonce_time;
      entry.reflexive_alt = found_b.reflexive_alt;
      entry.address_proven = found_b.address_proven;
      return accept_registration(r, entry, lifetime, true);
    }
    ++stats.replays;
    return challenge(r, wire::error::unauthenticated, "replayed");
  }
  // A full cache cannot hold what we would take: the NONCE path, until entries expire.
  if (!replays.has_room(r.now)) {
    ++stats.cookie_challenges;
    return challenge(r, wire::error::unauthenticated, "busy");
  }
  if (!signed_by(r, entry.key)) {
    ++stats.auth_failed;
    return challenge(r, wire::error::unauthenticated, "bad signature");
  }
  replays.insert(digest, r.now);
  ++stats.first_datagram;
  // The source may be spoofed: until the peer's first refresh by credential (the credential
  // went only to this address), Introduces to it are sent once (docs/security.md).
  entry.address_proven = false;
  // Fresh as of now: a NONCE-signed Register issued before this one cannot undo it.
  return register_verified(r, entry, lifetime, seconds_of(r.now));
}

}  // namespace punch
