// One hole-punching attempt and the checks it sent: its candidate pairs, the handshake's keys
// and signatures, the pair that answered, port prediction's sockets, and the early frames
// held until its connection is made (private header).
#pragma once

#include "punch/connection.hpp"
#include "punch/identity.hpp"
#include "punch/session.hpp"
#include "punch/transport.hpp"
#include "punch/wire/protocol.hpp"
#include "punch/wire/stun.hpp"
#include "session/clock.hpp"
#include "session/one_shot_event.hpp"
#include "session/random_ids.hpp"
#include "session/remote_candidate.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace punch::detail {

struct connection_state;

// One hole-punching attempt, keyed by the introduction's token. It stays registered while its
// connection lives, so late checks and nominations from the other side are still answered.
// The handshake rides on the checks: every check and check answer carries our X25519 key for
// this attempt (EPHEMERAL-KEY) and our identity's HANDSHAKE-SIGNATURE binding it to the
// introduction (made once per attempt), and is sealed with MESSAGE-INTEGRITY-SHA256 keyed
// from the introduction. Once a check has crossed, both
// sides derive the connection's keys (crypto_kx) from the two ephemeral keys.
using x25519_key = std::array<std::byte, 32>;

struct punch_attempt : std::enable_shared_from_this<punch_attempt> {
  punch_attempt(const asio::any_io_executor& ex, punch::clock& time) : done(ex, time), nominated(ex, time), ipv6_answered(ex, time) {}
  ~punch_attempt();
  wire::token token{};
  wire::introduction_keys keys;
  std::string peer;
  public_key peer_key{};           // the identity the peer's signatures must verify with
  nat_mapping peer_nat = nat_mapping::unknown;
  bool relay_first = false;        // both NATs hard: punching cannot work, allocate at once
  x25519_key ephemeral_public{};   // ours, for this attempt only
  x25519_key ephemeral_secret{};   // wiped once the connection's keys are derived
  std::optional<x25519_key> peer_ephemeral;  // the peer's, from its first authentic check
  signature handshake_signature{};           // ours over wire::handshake_transcript, made once
  signature peer_signature{};                // the peer's, verified once with peer_ephemeral
  std::uint32_t peer_ciphers = 0;            // the peer's CIPHERS, from its first authentic check
  // Check requests already answered, so that a replayed one is dropped (bounded).
  static constexpr std::size_t max_seen = 1024;
  std::unordered_set<stun::transaction_id, detail::random_bytes_hash> seen;
  bool controlling = false;
  std::uint64_t tiebreaker = 0;
  std::vector<remote_candidate> remotes;
  clock::time_point started;
  detail::one_shot_event done;       // a pair answered (or was nominated to us)
  detail::one_shot_event nominated;  // controlling: the nomination was answered
  // An IPv4 pair answered first: for a moment an IPv6 pair that answers takes its place
  // (RFC 8305's preference, without its head start: both families are checked at once).
  bool waiting_for_ipv6 = false;
  detail::one_shot_event ipv6_answered;
  std::chrono::nanoseconds selected_rtt{0};  // the round trip of the check that answered first
  std::optional<remote_candidate> selected;
  // A relayed pair that answered a check: where path_mode::adaptive moves on loss.
  std::optional<remote_candidate> relay_pair;
  std::vector<stun::transaction_id> checks;  // outstanding check ids, erased at the end
  std::weak_ptr<connection_state> conn;
  bool upgrading = false;  // controlling, relayed: a direct pair answered and is being nominated
  bool finished = false;   // finish_attempt ran: no more checks
  // Port prediction (prediction.cpp): the peer's reflexive address as the broker reported it;
  // on the hard side the extra sockets (a slot is empty once closed, so indices stay valid).
  endpoint peer_reflexive;
  bool probing = false;  // the easy side: probes to the peer's address are predicted candidates
  // When port prediction starts (unset: it does not run in this attempt).
  std::optional<clock::time_point> prediction_start;
  std::vector<std::shared_ptr<datagram_socket>> spray;
  // Early data: frames of this attempt's connection that arrived before our side of the
  // handshake finished (the other side finished first and sent at once). Held as they came,
  // unopened, and handed to the connection when it is made (make_connection); bounded.
  struct held_frame {
    std::vector<std::byte> bytes;
    endpoint from;
    std::size_t via = 0;
  };
  static constexpr std::size_t max_held_frames = 64;
  static constexpr std::size_t max_held_bytes = 64 * 1024;
  std::vector<held_frame> held;
  std::size_t held_bytes = 0;

  const remote_candidate* find(const endpoint& ep, std::size_t via = 0) const {
    for (const auto& r : remotes)
      if (r.address == ep && r.via == via) return &r;
    return nullptr;
  }
  // A direct pair answered (the connection may still wait for the upgrade from the relay).
  bool direct() const { return selected && selected->kind != path_kind::relay; }
};

// A check we sent, so its response finds its attempt.
struct check_ref {
  std::weak_ptr<punch_attempt> attempt;
  remote_candidate target;
  bool nomination = false;
  clock::time_point sent{};
};

}  // namespace punch::detail
