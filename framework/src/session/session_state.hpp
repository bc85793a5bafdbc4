// The peer session's private state, shared by the session handle, its receive loop, its
// punch attempts and its connections (private header).
#pragma once

#include "punch/connection.hpp"
#include "punch/identity.hpp"
#include "punch/session.hpp"
#include "punch/wire/protocol.hpp"
#include "punch/wire/stun.hpp"
#include "session/replay_window.hpp"
#include "session/one_shot_event.hpp"

#include <boost/asio/steady_timer.hpp>

#include <sodium.h>

#include <array>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace punch {

using clock = std::chrono::steady_clock;

namespace detail {
// Transaction ids and tokens are random, so their first 8 bytes are a good hash.
struct random_bytes_hash {
  template <std::size_t N>
  std::size_t operator()(const std::array<std::byte, N>& a) const noexcept {
    std::size_t h = 0;
    std::memcpy(&h, a.data(), sizeof h < N ? sizeof h : N);
    return h;
  }
};
stun::transaction_id random_transaction_id();
std::uint64_t random_u64();
// Host candidates: the socket's own address, or the transport's interface addresses when it
// is bound to the unspecified address (0.0.0.0: IPv4 ones; the dual-stack ::, both).
std::vector<endpoint> gather_host_candidates(transport& t, const endpoint& local);
// A peer's candidates as a broker answer or an Introduce lists them (session.cpp).
peer_info read_peer(const stun::message& m, std::string_view fallback_id);
}  // namespace detail

// A broker request waiting for its response.
struct transaction {
  transaction(const asio::any_io_executor& ex, const endpoint& server) : done(ex), to(server) {}
  detail::one_shot_event done;
  endpoint to;  // the broker or the relay: only it may answer
  std::vector<std::byte> response;
};

// A candidate pair: the peer's address, and which of our sockets reaches it (0: the
// session's socket; i > 0: the attempt's port-prediction socket i - 1).
struct remote_candidate {
  endpoint address;
  path_kind kind;
  std::size_t via = 0;
};

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
  punch_attempt(const asio::any_io_executor& ex) : done(ex), nominated(ex), ipv6_answered(ex) {}
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
  std::vector<stun::transaction_id> checks;  // outstanding check ids, erased at the end
  std::weak_ptr<connection_state> conn;
  bool upgrading = false;  // controlling, relayed: a direct pair answered and is being nominated
  bool finished = false;   // finish_attempt ran: no more checks
  // Port prediction (predict.cpp): the peer's reflexive address as the broker reported it;
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

struct session_state : std::enable_shared_from_this<session_state> {
  session_state(transport& t, session_options o);

  transport& net;  // opens the port-prediction sockets
  asio::any_io_executor ex;
  session_options options;
  identity me;
  datagram_socket socket;
  session_stats stats;
  // Our registration over one address family: where it goes, the broker's latest NONCE there
  // (signed into the next Register) and its REFRESH-CREDENTIAL from its answer to our last
  // signed Register there: refreshes (and the Register that tells our NAT-MAPPING) send it
  // instead of a signature until the broker refuses it (438).
  struct broker_link {
    endpoint to;
    std::vector<std::byte> nonce;
    std::vector<std::byte> refresh_credential;
  };
  broker_link broker_main;
  std::optional<broker_link> broker_alt;  // the other family's (broker_other_family), if our socket reaches it
  bool is_broker(const endpoint& ep) const { return ep == broker_main.to || (broker_alt && ep == broker_alt->to); }
  std::vector<std::byte> relay_nonce;  // the relay's latest NONCE, for the next ALLOCATE
  nat_mapping nat = nat_mapping::unknown;  // ours, measured against the broker's other port
  std::uint32_t ciphers = 0;  // what we offer in CIPHERS (wire::cipher bits)
  std::optional<endpoint> other_address;  // the broker's other port (OTHER-ADDRESS), if any
  std::chrono::milliseconds broker_rtt{0};  // the last round trip to the broker (unretransmitted requests)
  std::function<void(const session_event&)> on_event;
  bool closed = false;

  // registration
  bool registered = false;
  bool keepalive_running = false;
  registration_info registration;
  asio::steady_timer keepalive_timer;
  std::vector<endpoint> host_candidates;

  std::unordered_map<stun::transaction_id, transaction*, detail::random_bytes_hash> requests;
  std::unordered_map<stun::transaction_id, check_ref, detail::random_bytes_hash> checks;
  // Punch attempts by PUNCH-ID (wire::derive_keys of their token).
  std::unordered_map<std::array<std::byte, 8>, std::shared_ptr<punch_attempt>, detail::random_bytes_hash> punches;
  std::unordered_map<wire::connection_tag, std::weak_ptr<connection_state>> connections;
  // Attempts whose connection is not made yet, by the tag their connection's frames will
  // carry: where early frames are held.
  std::unordered_map<wire::connection_tag, std::weak_ptr<punch_attempt>> unconnected;

  // accept(): connections punched after an introduction, waiting to be taken.
  std::deque<std::shared_ptr<connection_state>> backlog;
  detail::one_shot_event accept_ready;

  std::array<std::byte, 2048> rx_buffer{};
  endpoint rx_from;

  void emit(session_event e) {
    if (on_event) on_event(e);
  }
  void shutdown();

  // receive loop and demultiplexing (session.cpp)
  asio::awaitable<void> receive_loop();
  // What a receive loop does after a receive on `s`: stop (the session or the socket closed,
  // or 64 errors in a row: ICMP errors surface on receive on some platforms, and a stream of
  // them means a dead socket), skip one error, or handle the datagram.
  enum class after_receive { stop, skip, handle };
  after_receive judge(const error_code& ec, const datagram_socket& s, int& consecutive_errors) const;
  asio::awaitable<void> handle_stun(std::span<const std::byte> d, const endpoint& from);
  void handle_frame(std::span<std::byte> d, const endpoint& from, std::size_t via = 0,
                    const punch_attempt* owner = nullptr);
  // A frame for an attempt whose connection is not made yet: held until it is (bounded).
  void hold_early_frame(std::span<const std::byte> d, const endpoint& from, std::size_t via,
                        const punch_attempt* owner);

  // broker transactions (session.cpp)
  struct response {
    std::vector<std::byte> bytes;
    stun::message msg;
  };
  template <typename Build>
  // `sign`: end the request with our SIGNATURE over it (after the PADDING). `server`: the
  // broker (default) or the relay.
  asio::awaitable<response> request(std::uint16_t method, Build&& build, clock::time_point deadline,
                                    std::string_view what, bool sign = false,
                                    std::optional<endpoint> server = std::nullopt);
  // Registers (or refreshes) over `link` (default: broker_main).
  asio::awaitable<registration_info> do_register(clock::time_point deadline, broker_link* link = nullptr);
  // Registers over the other family too (best effort): `info.reflexive_other`.
  asio::awaitable<void> register_other_family(registration_info& info, clock::time_point deadline);
  // Connect: asks the broker to introduce us to `target` (for a live connection, with its
  // RESUME); registers again once if the broker forgot us.
  asio::awaitable<response> introduce_me(const std::string& target, const std::array<std::byte, wire::resume_size>* resume,
                                         clock::time_point deadline, const std::string& what);
  // One Binding to the broker's other port: the same reflexive address means an easy NAT.
  asio::awaitable<void> discover_nat(const registration_info& info, clock::time_point deadline);
  asio::awaitable<void> keepalive_loop();

  // punching (punch.cpp)
  std::shared_ptr<punch_attempt> make_attempt(const wire::token& token, std::string peer,
                                              bool controlling, const peer_info& remote);
  asio::awaitable<std::shared_ptr<connection_state>> run_punch(std::shared_ptr<punch_attempt> a,
                                                               clock::time_point deadline);
  asio::awaitable<void> accept_introduction(std::shared_ptr<punch_attempt> a);
  // Sends USE-CANDIDATE checks to `to` until one is answered; the answer moves the
  // connection there (the upgrade from the relay to a direct path).
  asio::awaitable<void> nominate(std::shared_ptr<punch_attempt> a, remote_candidate to);
  // At relay_after without an answered pair: ALLOCATE at the relay, whose endpoint then
  // becomes a candidate like any other (checks and frames go through it).
  asio::awaitable<void> allocate_relay(std::shared_ptr<punch_attempt> a, clock::time_point deadline);
  // Relayed: keeps sending checks on the direct pairs, so that a hole that opens late is found.
  asio::awaitable<void> keep_trying_direct(std::shared_ptr<punch_attempt> a);
  void switch_path(punch_attempt& a, const remote_candidate& to);
  asio::awaitable<void> send_check(punch_attempt& a, remote_candidate to, bool nominate);
  // `via`: the socket it came on (0: the session's; else a prediction socket of `owner`).
  asio::awaitable<void> handle_check_request(const stun::message& m, const endpoint& from, std::size_t via = 0,
                                             const punch_attempt* owner = nullptr);
  // Finishes a check or check answer: EPHEMERAL-KEY, HANDSHAKE-SIGNATURE, MESSAGE-INTEGRITY-SHA256.
  std::span<const std::byte> seal_check(punch_attempt& a, stun::builder& b);
  // Verifies a check or check answer from the peer of `a` (integrity, then signature) and
  // learns its ephemeral key; counts what it rejects.
  bool authentic(punch_attempt& a, const stun::message& m);
  void handle_check_response(const stun::message& m, const endpoint& from, std::size_t via = 0);
  void finish_attempt(punch_attempt& a);
  // An attempt that ends without a connection: finished, forgotten, its held frames dropped.
  void drop_attempt(punch_attempt& a);
  // The socket of a candidate pair (the session's when the prediction socket is gone).
  datagram_socket& socket_of(const punch_attempt& a, std::size_t via);

  // port prediction (predict.cpp)
  // Started with run_punch when one side is hard and the other easy; waits
  // options.prediction.after, then sprays (hard side) or probes (easy side).
  asio::awaitable<void> predict(std::shared_ptr<punch_attempt> a);
  asio::awaitable<void> spray(std::shared_ptr<punch_attempt> a, clock::time_point until);
  asio::awaitable<void> probe(std::shared_ptr<punch_attempt> a, clock::time_point until);
  asio::awaitable<void> spray_receive(std::weak_ptr<punch_attempt> owner, std::size_t via,
                                      std::shared_ptr<datagram_socket> s);
  // Closes the prediction sockets that the connection does not use.
  void prune_spray(punch_attempt& a);
  // Drops the bookkeeping of prediction's unanswered checks once it is over.
  void forget_prediction_checks(punch_attempt& a);
  std::shared_ptr<connection_state> make_connection(punch_attempt& a);

  // When the network changes (roaming.cpp).
  // Re-registers (once for every connection that asks within relocation_reuse): our address
  // as the broker now sees it, our host candidates gathered again.
  asio::awaitable<void> relocate();
  struct relocation {
    explicit relocation(const asio::any_io_executor& ex) : done(ex) {}
    detail::one_shot_event done;
    clock::time_point finished;
  };
  std::shared_ptr<relocation> last_relocation;
  static constexpr std::chrono::milliseconds relocation_reuse{1000};
  // A connection lost its path: relocate, then re-introduce at once if we moved, else once
  // the peer had resume_delay to do it.
  asio::awaitable<void> recover(std::weak_ptr<connection_state> c);
  // Connect with RESUME, punch with the new introduction, and move the connection there.
  asio::awaitable<void> resume(std::shared_ptr<connection_state> c);
  // The other side of it: an Introduce with RESUME for one of our live connections.
  asio::awaitable<void> accept_resume(std::shared_ptr<punch_attempt> a, std::weak_ptr<connection_state> c);
  std::shared_ptr<connection_state> find_resumable(std::span<const std::byte> resume_id, const peer_info& peer);
  // A resume attempt succeeded: the connection takes its pair (and its sockets).
  void adopt(connection_state& c, punch_attempt& a);
  // The keepalive saw our reflexive address change: every connection checks its path now.
  void moved();
  // Punches until a pair answers (or throws errc::punch_timeout); run_punch without the connection.
  asio::awaitable<void> punch(std::shared_ptr<punch_attempt> a, clock::time_point deadline);
};

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

  // Inbound datagrams waiting for receive(); bounded like a socket buffer.
  static constexpr std::size_t max_queued = 256;
  std::deque<std::vector<std::byte>> inbound;
  std::vector<std::vector<std::byte>> spare;  // recycled buffers: no allocation once warm
  std::optional<asio::mutable_buffer> waiting;  // receive() parked with this buffer
  std::size_t delivered = 0;
  detail::one_shot_event readable;
  detail::one_shot_event close_acked;
  asio::steady_timer ticker;  // keepalive and idle detection
  std::array<std::byte, wire::frame_overhead + connection::max_payload()> tx_buffer{};
  bool tx_busy = false;
  std::uint64_t dropped = 0;

  void on_frame(std::span<std::byte> d, const endpoint& from, std::size_t via);
  datagram_socket& out() { return session->socket_of(*attempt, via); }
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
  static asio::awaitable<void> linger(std::weak_ptr<connection_state> self);
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

}  // namespace punch
