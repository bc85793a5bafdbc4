// A punched connection's private state: its keys and counters, its path and the path's
// liveness, its inbound queue, and its close (private header). Its members are defined in
// connection.cpp (frames, keepalive, close) and path.cpp (probes, validation, moves).
#pragma once

#include "punch/connection.hpp"
#include "punch/transport.hpp"
#include "punch/wire/protocol.hpp"
#include "session/clock.hpp"
#include "session/datagram_queue.hpp"
#include "session/loss_meter.hpp"
#include "session/one_shot_event.hpp"
#include "session/punch_attempt.hpp"
#include "session/remote_candidate.hpp"
#include "session/replay_window.hpp"
#include "session/session_state.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>

#include <sodium.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace punch::detail {

struct association;  // its streams (association.hpp)

// A connection's state (connection.cpp).
struct connection_state : std::enable_shared_from_this<connection_state> {
  connection_state(std::shared_ptr<session_state> s, std::shared_ptr<punch_attempt> a);
  ~connection_state();

  std::shared_ptr<session_state> session;
  std::shared_ptr<punch_attempt> attempt;
  std::string peer;
  wire::connection_tag tag = 0;
  // XChaCha20-Poly1305 keys of each direction, from crypto_kx over the ephemeral keys.
  std::array<std::byte, 32> rx_key{}, tx_key{};
  // AES-256-GCM (when both sides offered it): the keys expanded once.
  bool aes = false;
  crypto_aead_aes256gcm_state rx_aes{}, tx_aes{};
  std::uint64_t tx_counter = 0;
  detail::replay_window rx_window;
  endpoint remote;
  path_kind path = path_kind::reflexive;
  std::size_t via = 0;  // which of our sockets (remote_candidate::via)
  bool open = true;
  error_code close_reason;  // why receive() ends
  std::string close_text;

  clock::time_point last_heard;  // an authenticated frame from anywhere (the idle timeout)
  clock::time_point last_sent;
  clock::time_point last_data_sent{};  // data and probes: what expects the peer to be there
  clock::time_point last_activity;     // data or stream packets sent or received (not probes)
  // The keepalive interval now: connection_keepalive while active, connection_idle_keepalive
  // once idle for connection_idle_after (session_options).
  clock::duration keepalive_now(clock::time_point now) const;
  // Data or a stream packet went out or came in.
  void active(clock::time_point now);

  // The path's liveness (path.cpp; docs/nat-traversal.md, "When the network changes").
  clock::time_point path_heard;  // an authenticated frame from (remote, via)
  bool path_suspect = false;     // our session saw its address change: probe at once
  int probes_unanswered = 0;
  clock::time_point last_probe{};
  bool path_lost = false;
  clock::time_point lost_at{};
  bool recovering = false;       // session_state::recover runs for this connection
  clock::time_point next_resume{};
  // What the broker saw of our session when this path was set up: a new reflexive address
  // since then means that we are the side that moved.
  endpoint our_reflexive;
  std::optional<endpoint> our_reflexive_other;  // the other family's, dual-stack
  // Names this connection in a re-introduction (RESUME): the PUNCH-ID of its first attempt,
  // which both peers know.
  std::array<std::byte, wire::resume_size> resume_id{};
  // Its first attempt's RELAY-ID: a re-introduction allocates the same pair at the relay,
  // whose quiet side the moved peer takes over.
  std::array<std::byte, 16> relay_id{};
  // A path the peer's authenticated frames came from, being validated: it becomes the
  // connection's path when the peer answers a probe carrying `challenge` from there.
  struct path_validation {
    remote_candidate to;
    std::array<std::byte, 8> challenge{};
    clock::time_point sent;
  };
  std::optional<path_validation> validating;
  // path_mode::adaptive (path_policy.cpp): the direct pair's probes and their answers; the
  // policy moved the connection to the relay (no upgrade until the direct pair is clean); why
  // the next path_changed happens (its detail).
  detail::loss_meter loss;
  bool held_on_relay = false;
  std::string move_reason;

  // Inbound datagrams waiting for receive(); bounded like a socket buffer.
  static constexpr std::size_t max_queued = 256;
  detail::datagram_queue inbound{max_queued};
  std::optional<asio::mutable_buffer> waiting;  // receive() parked with this buffer
  std::size_t delivered = 0;
  detail::one_shot_event readable;
  detail::one_shot_event close_acked;
  punch::timer ticker;  // keepalive and idle detection
  std::array<std::byte, wire::frame_overhead + connection::max_payload()> tx_buffer{};
  bool tx_busy = false;
  std::uint64_t dropped = 0;
  // Its streams' SCTP association, from the first open_stream/accept_stream or the peer's
  // first sctp frame.
  std::shared_ptr<association> streams;

  void on_frame(std::span<std::byte> d, const endpoint& from, std::size_t via);
  datagram_socket& out() { return session->socket_of(*attempt, via); }
  // After data (a datagram, an SCTP packet) went out: sending into a path that has been
  // silent makes the ticker look at the path now, not at its next keepalive.
  void sent_data();
  // Writes the frame of `payload` into `out` (at least frame_overhead + payload bytes) and
  // returns it: header, sealed payload, tag. Each frame takes the next counter.
  std::span<const std::byte> seal(wire::frame_kind kind, std::span<const std::byte> payload, std::span<std::byte> out);
  // Opens a frame in place; the plaintext, or nullopt for a replayed or forged frame (counted).
  std::optional<std::span<std::byte>> open_frame(std::span<std::byte> d);
  void mark_closed(error_code why, std::string text, bool by_remote);
  // The peer's close, once it takes effect (on_frame).
  void closed_by_peer();
  // The counter of the peer's close frame, once one came: frames before it are still taken.
  std::optional<std::uint64_t> closing_at;
  // How long a close waits for the frames sent before it that have not arrived yet.
  static constexpr std::chrono::milliseconds close_linger{250};
  static asio::awaitable<void> linger(std::weak_ptr<connection_state> self, punch::clock& time);
  asio::awaitable<void> send_control(wire::frame_kind kind);
  // A probe (8 bytes of challenge) or probe answer to `to` on our socket `via`.
  asio::awaitable<void> send_probe(wire::frame_kind kind, endpoint to, std::size_t via,
                                   std::array<std::byte, 8> challenge);
  // After an authenticated frame: on the path it keeps the path alive; from elsewhere it
  // starts (or, for the probe answer that completes it, ends) a validation (path.cpp).
  void heard(wire::frame_kind kind, std::span<const std::byte> payload, const endpoint& from, std::size_t on);
  // What a path probe or the path's silence calls for now; when to look again.
  asio::awaitable<clock::time_point> tend_path(clock::time_point now);
  bool path_quiet(clock::time_point now) const;
  // The path moves to `to` (validated, or found by a re-introduction).
  void move_path(const remote_candidate& to);
  // One close frame, not waited for: when the connection ends without close() (the session
  // closes, every handle is dropped, the accept backlog is full) the other side still learns
  // of it at once instead of after its idle timeout.
  void send_farewell();
  static asio::awaitable<void> tick_loop(std::weak_ptr<connection_state> self);
};

}  // namespace punch::detail
