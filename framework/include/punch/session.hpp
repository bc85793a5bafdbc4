// A peer's session with a broker: register, look up, connect and accept as asynchronous steps.
//
//   punch::session s{transport, {.broker = broker_ep, .id = "alice"}};
//   co_await s.register_self();
//   punch::connection c = co_await s.connect("bob");      // or: co_await s.accept();
//
// One socket carries the broker traffic and every peer path, because the NAT mapping that
// the broker saw is the one the other peer must hit; only port prediction behind a hard NAT
// opens more (session_options::prediction). Every step takes any completion token, error_code
// first (punch/async.hpp): co_await throws punch::system_error whose message names the peer
// and the broker, asio::as_tuple(asio::use_awaitable) returns the code, callbacks and
// asio::deferred work too. Cancellation is asio's (race a step with a timer using
// awaitable_operators `||`): the step ends with asio::error::operation_aborted.
#pragma once

#include "punch/export.hpp"

#include "punch/async.hpp"
#include "punch/clock.hpp"
#include "punch/connection.hpp"
#include "punch/identity.hpp"
#include "punch/path_policy.hpp"
#include "punch/transport.hpp"
#include "punch/turn.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace punch {

using namespace std::chrono_literals;

// Port prediction (docs/nat-traversal.md): when one NAT is hard (a new external port per
// destination) and the other easy, plain punching fails against port-restricted filtering.
// The hard side then opens `sockets` extra sockets, each a new mapping toward the easy side's
// address, and the easy side probes `probes` ports of the hard side's address: first the
// ports right after its known mapping (NATs that allocate in sequence), interleaved with
// random ones (the birthday paradox: 256 mappings and 2048 probes miss about 1 time in 3000
// on a NAT that picks among 64,512 ports at random). Bounded in count, rate and time.
struct PUNCH_EXPORT port_prediction_options {
  bool enabled = true;
  std::size_t sockets = 256;                 // hard side: extra sockets (mappings), at most
  std::size_t probes = 2048;                 // easy side: probe checks, at most
  std::size_t probes_per_second = 1000;      // easy side: probe rate
  std::chrono::milliseconds after{200};      // starts when no pair answered this long plus 3 broker round trips
  std::chrono::milliseconds duration{3000};  // then lasts at most this long
};

// Port mapping (docs/nat-traversal.md, "Port mapping"): on register_self() the session asks its
// default gateway to forward a port to its socket, beside registration (never delaying it):
// PCP (RFC 6887) first, then NAT-PMP (RFC 6886) and UPnP IGD, each bounded by its timeout; the
// last two only over real UDP (transport "udp"). A granted mapping is announced to the broker
// as our `mapped` candidate, which the other side tries first; it is renewed at half its
// lifetime, asked again when the gateway's epoch shows it restarted, and deleted on close.
// Only our own socket's port is mapped, for at most `lifetime`.
struct PUNCH_EXPORT port_mapping_options {
  bool enabled = true;
  // The gateway to ask; unset: over real UDP the IPv4 default gateway of /proc/net/route, on
  // any other transport none (no mapping is asked for, errc::no_gateway).
  std::optional<asio::ip::address> gateway;
  std::chrono::seconds lifetime{7200};          // asked for; the gateway may grant less
  std::chrono::milliseconds pcp_timeout{1500};  // PCP: RFC 6887 §8.1.1's retransmissions, cut short
  std::chrono::milliseconds natpmp_timeout{1000};
  std::chrono::milliseconds upnp_timeout{2000};  // discovery and the AddPortMapping, together
};

// One broker of several (session_options::fallback_brokers): where it listens, and its
// address of the other family (a dual-stack broker), if any.
struct PUNCH_EXPORT broker_address {
  endpoint address;
  std::optional<endpoint> other_family;
};

struct PUNCH_EXPORT session_options {
  endpoint broker;                      // where the broker listens: the first one tried
  // The same broker's address of the other family (a dual-stack broker), if any: a session
  // whose socket is dual-stack (bound to "::") registers over both families, so that the
  // broker has our reflexive address in each (docs/nat-traversal.md, "IPv4 and IPv6").
  std::optional<endpoint> broker_other_family;
  // Peer failover (docs/deployment.md, "Peer failover"): more brokers, tried in order after
  // `broker`. A separate list rather than one `brokers` vector, so that `.broker = ep` stays
  // the whole configuration of a session with one broker. register_self() takes the first
  // that answers; when the current one stops answering a keepalive refresh, the session
  // registers at the next one (wrapping around), within keepalive + request_timeout of its
  // death (session_event broker_changed). Each broker measures our NAT with its own second
  // port (OTHER-ADDRESS), and a dual-stack socket registers over both of its families.
  std::vector<broker_address> fallback_brokers;
  std::string id;                       // our peer id: 1..64 of [A-Za-z0-9._@-]
  endpoint local{asio::ip::address_v4::any(), 0};  // where our socket binds
  // Our identity key: the broker binds our id to it, and our connections' handshakes prove
  // we hold it. Empty (the default): a fresh key for this session only, so a later session
  // cannot take the id over until this registration expires. Apps keep it in a file
  // (identity::load_or_create).
  std::optional<identity> key;
  // Host candidates to announce; empty = the socket's own address, or the interface addresses
  // (transport::interface_addresses) when bound to the unspecified address: IPv4 ones for
  // 0.0.0.0, both families for the dual-stack "::" (IPv6 first). No link-local addresses.
  std::vector<endpoint> host_candidates;
  std::chrono::seconds lifetime{60};    // requested registration lifetime
  // Registration refresh and NAT keepalive period; well inside the NAT mapping lifetime.
  std::chrono::milliseconds keepalive{15s};
  // Deadline of one broker request (register, lookup, connect) including retransmissions.
  std::chrono::milliseconds request_timeout{5s};
  // First retransmission timeout of a broker request; doubles up to 1 s.
  std::chrono::milliseconds request_rto{200ms};
  // Deadline of hole punching, from introduction to an answered check.
  std::chrono::milliseconds punch_timeout{10s};
  // A relay (punch-relay) to fall back on when no direct path answers within relay_after;
  // unset: direct paths only. While relayed, direct paths keep being tried, and the
  // connection moves to the first that opens.
  std::optional<endpoint> relay;
  std::chrono::milliseconds relay_after{1500ms};
  // Standard TURN servers (RFC 8656, e.g. coturn) to relay through, tried in order: register_self
  // allocates at the first that accepts (beside registering, within its timeout) and announces
  // the relayed address as one more candidate; peers' checks to it get through once no direct
  // pair answered within relay_after. Events turn_allocated / turn_failed say how it went;
  // without an allocation the session works as before (docs/relay.md, "TURN").
  std::vector<turn_server> turn_servers;
  port_prediction_options prediction;
  port_mapping_options port_mapping;
  // Direct only, relayed only, or switching on loss (punch/path_policy.hpp); default `any`.
  path_policy_options path_policy;
  // Seal connections with AES-256-GCM when both sides have AES instructions (faster);
  // XChaCha20-Poly1305 otherwise, or when false. Both are authenticated encryption.
  bool allow_aes_gcm = true;
  // Measure our NAT's mapping when registering (one Binding to the broker's other port, which
  // the broker announces with OTHER-ADDRESS); two hard sides then use the relay at once.
  // It runs beside the registration, not before its answer: register_self() completes after
  // one round trip with `nat` unknown, and the measurement reaches the broker (and us, as a
  // session_event refreshed carrying it) a round trip or two later; connect() waits for it.
  bool discover_nat = true;
  // Added to the wall clock (punch::wall_time of `clock`) that the first Register's TIMESTAMP
  // reads (docs/protocol.md, "TIMESTAMP"): tests make a peer whose clock is wrong with it. A
  // peer off by more than the broker's timestamp_window still registers, over the broker's
  // NONCE, one round trip later.
  std::chrono::milliseconds wall_clock_offset{0};
  // Connection keepalive when nothing else goes out, and how long silence means the peer is
  // gone.
  std::chrono::milliseconds connection_keepalive{5s};
  std::chrono::milliseconds connection_idle_timeout{30s};
  // A connection that carried no data either way (datagrams, stream packets) for
  // connection_idle_after keeps its path and NAT mappings alive with a keepalive every
  // connection_idle_keepalive instead: a process with many idle connections sends and wakes
  // for a fifth as many datagrams (docs/performance.md, "Many connections in one session").
  // Data makes it active again at once, and data sent into a path that has gone quiet still
  // probes it at once. Capped so that a lost keepalive is probed for before the idle timeout
  // (at connection_idle_timeout - path_probe_after - path_probes * path_probe_gap); a value
  // not above connection_keepalive turns it off. Both peers should use the same.
  std::chrono::milliseconds connection_idle_after{30s};
  std::chrono::milliseconds connection_idle_keepalive{25s};
  // When the network changes (docs/nat-traversal.md): a connection that hears nothing on its
  // path for path_probe_after while it sends (or for connection_keepalive + path_probe_after
  // while idle) probes the path; path_probes unanswered probes, path_probe_gap apart, and the
  // path is lost (session_event path_lost). The session then re-registers; the side whose
  // address changed asks the broker at once to re-introduce the two peers, the other side
  // after resume_delay, and the connection moves to the path that punching finds again, with
  // the same keys (path_changed). Nothing heard for connection_idle_timeout still closes it.
  std::chrono::milliseconds path_probe_after{1s};
  std::chrono::milliseconds path_probe_gap{250ms};
  int path_probes = 3;
  std::chrono::milliseconds resume_delay{2s};
  // Streams (punch/stream.hpp): the largest SCTP packet, which travels in one frame of 29
  // bytes more; 1200 keeps the UDP datagram under IPv6's minimum MTU (1280), so that it is
  // never fragmented. Both peers should use the same.
  std::size_t stream_packet_size = 1200;
  // How long connection::close() waits for its streams' data to be acknowledged.
  std::chrono::milliseconds stream_shutdown_timeout{5s};
  // Bytes a stream holds that its reader has not read: above it, reading from SCTP stops
  // (for every stream of the connection) and SCTP's flow control slows the sender.
  std::size_t stream_buffer = 256 * 1024;
  // Introductions that arrived before accept() was called, at most.
  std::size_t accept_backlog = 16;
  // The clock of every timer and deadline above; null: punch::steady_clock(). Tests on the
  // simulated network give its clock (sim::network::clock()), so that the session's time is
  // the network's virtual time. It must outlive the session.
  punch::clock* clock = nullptr;
};

// What the broker said about us.
// How a NAT maps our socket's outgoing datagrams (RFC 4787 §4.1, measured RFC 5780 style by
// asking the broker's second port what it sees): "easy" NATs (and no NAT) keep one external
// address for every destination, so hole punching works against them; "hard" ones (symmetric
// NATs) give each destination a new port, so two hard sides need the relay.
enum class nat_mapping : std::uint8_t {
  unknown = 0,               // not measured (the broker has no second port, or it did not answer)
  endpoint_independent = 1,  // easy
  endpoint_dependent = 2,    // hard
};
PUNCH_EXPORT const char* to_string(nat_mapping m) noexcept;  // "unknown", "easy", "hard"

struct PUNCH_EXPORT registration_info {
  endpoint reflexive;                   // our address as the broker saw it
  // Dual-stack: our address in the other family, as the broker saw it there.
  std::optional<endpoint> reflexive_other;
  std::chrono::seconds lifetime{0};     // granted lifetime
  // Our NAT's mapping, when the broker lets us measure it and it is measured yet (the first
  // register_self() completes before: see session_options::discover_nat).
  nat_mapping nat = nat_mapping::unknown;
  endpoint broker;                      // the broker that answered (one of the session's brokers)
};

// A peer's candidates as the broker reports them.
struct PUNCH_EXPORT peer_info {
  std::string id;
  public_key key{};                     // the identity key the broker bound the id to
  nat_mapping nat = nat_mapping::unknown;  // what the peer measured of its NAT
  endpoint reflexive;
  std::optional<endpoint> reflexive_other;  // a dual-stack peer's, in the other family
  std::vector<endpoint> host;
  std::optional<endpoint> mapped;       // the port mapping its gateway granted it, if any
};

// Session events for logs and the apps' --events output.
struct PUNCH_EXPORT session_event {
  // path_changed: the connection moved to another path (address, path: the new one): a
  // relayed one to a direct path, or any one after the network changed.
  // path_lost: the connection's path stopped answering (address, path: the lost one); the
  // session is finding a new one (path_changed), or the idle timeout closes the connection.
  // broker_changed: the current broker stopped answering (error: why) and the session is now
  // registered at another one (address: that broker; peer: our id). Connections go on; new
  // lookups and connects go to that broker, and peers reach us through it.
  // turn_allocated: the relayed address (address) at a TURN server; turn_failed: a TURN server
  // (address) refused or stopped answering (error: errc::turn_unauthorized, turn_refused,
  // turn_unreachable, turn_bad_response).
  // port_mapped: our gateway granted a port mapping (address: the external endpoint; detail:
  // the protocol, "pcp", "natpmp" or "upnp"), renewed it, or asked again after it restarted;
  // with `error` set, no gateway granted one (error: why; detail: what was tried).
  enum class kind { registered, refreshed, refresh_failed, introduced, connected, punch_failed, closed, path_changed, path_lost, broker_changed,
                    turn_allocated, turn_failed, port_mapped };
  kind what = kind::registered;
  std::string peer{};                   // our id (registered, refreshed) or the other peer's
  endpoint address{};                   // reflexive (registered) or remote path (connected, closed)
  path_kind path = path_kind::reflexive;  // connected, closed, path_changed
  nat_mapping nat = nat_mapping::unknown;  // registered, refreshed: ours; introduced, connected: the peer's
  // connected, punch_failed: since connect()/introduction; broker_changed: since the last
  // answer of the broker left, an upper bound on how long we were unreachable by new peers.
  std::chrono::milliseconds elapsed{0};
  // refresh_failed, punch_failed; for closed: empty when closed locally, else why
  // (errc::connection_closed by the peer, errc::timeout when nothing was heard).
  error_code error{};
  std::string detail{};                 // port_mapped: the protocol, or what was tried
  std::chrono::seconds lifetime{0};     // port_mapped: the lifetime granted
};

// Options of one connect().
struct PUNCH_EXPORT connect_options {
  // Deadline of the whole connect (broker request and punching); default: the session's
  // request_timeout + punch_timeout.
  std::optional<std::chrono::milliseconds> timeout;
  // The identity key the peer must prove it holds. Without it the key the broker reports is
  // trusted (a broker that lies can then stand in for the peer; see docs/security.md).
  std::optional<public_key> expected_key;
};

// Counters of what the session dropped, for logs and tests.
struct PUNCH_EXPORT session_stats {
  std::uint64_t checks_rejected = 0;   // punch checks or answers whose integrity or signature failed
  std::uint64_t checks_replayed = 0;   // punch checks seen before
  std::uint64_t frames_rejected = 0;   // data frames that failed to decrypt (forged or altered)
  std::uint64_t frames_replayed = 0;   // data frames seen before, or too old for the window
  std::uint64_t turn_answers_ignored = 0;  // TURN answers with bad integrity (or malformed), ignored
  // Early data: frames that arrived before our side of the handshake finished, held and
  // delivered once it did; and those dropped instead (over the bound of 64 frames or 64 KiB
  // per connection, or their attempt failed).
  std::uint64_t frames_held = 0;
  std::uint64_t frames_held_dropped = 0;
  // When the network changes: paths that stopped answering, re-introductions asked of the
  // broker (Connect with RESUME), and moves of a connection to another path after its start.
  std::uint64_t paths_lost = 0;
  std::uint64_t resumes_requested = 0;
  std::uint64_t paths_changed = 0;
  // Authenticated frames from an address that is not the connection's path: each such address
  // is probed, and the path moves there only when the peer answers the probe from it.
  std::uint64_t path_validations = 0;
  // path_mode::adaptive: probes sent on the direct pair to measure its loss, and those unanswered.
  std::uint64_t loss_probes_sent = 0, loss_probes_lost = 0;
  // Streams: SCTP packets in authentic frames that were dropped before SCTP saw them (shorter
  // than SCTP's common header, longer than stream_packet_size, wrong ports, or no streams).
  std::uint64_t stream_packets_dropped = 0;
};

namespace detail {
struct session_state;  // private: framework/src/session/
}

class PUNCH_EXPORT session {
public:
  // Opens the session's socket on `t` at options.local (throws system_error on failure).
  session(transport& t, session_options options);
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  // Every step below may also end with asio::error::operation_aborted (cancelled through the
  // token's cancellation slot) and errc::session_closed (close() was called meanwhile). The
  // session must outlive the step.

  // Registers our id at the broker and starts the keepalive that refreshes the
  // registration and the NAT mapping; completes with registration_info (its `broker` says
  // which). With fallback_brokers, the brokers are tried in order from the current one (the
  // first, at the start) and the first that answers wins: each is given `timeout` (default:
  // options.request_timeout), so the step takes at most that times the number of brokers.
  // Only silence moves on to the next one; an error answer ends the step with its code.
  // errc::invalid_peer_id (our id), errc::broker_unreachable (no broker answered: the
  // message names each),
  // errc::id_taken (another key holds the id), errc::registry_full, errc::rate_limited,
  // errc::authentication_failed (the broker refused our signature), errc::bad_response,
  // errc::rejected (an error answer we do not know).
  template <asio::completion_token_for<completion_signature<registration_info>> Token = asio::use_awaitable_t<>>
  auto register_self(Token&& token = {}) {
    return register_self(options().request_timeout, std::forward<Token>(token));
  }
  template <asio::completion_token_for<completion_signature<registration_info>> Token = asio::use_awaitable_t<>>
  auto register_self(std::chrono::milliseconds timeout, Token&& token = {}) {
    return detail::initiate<registration_info>(
        std::forward<Token>(token), [s = state_, timeout](error_code* ec) { return register_self_(s, timeout, ec); },
        [s = state_, timeout](completion_handler<registration_info> h) { async_register_self_(s, timeout, std::move(h)); });
  }

  // A peer's candidates; completes with peer_info. errc::invalid_peer_id, errc::peer_not_found,
  // errc::not_registered (the broker does not know us), errc::broker_unreachable,
  // errc::rate_limited, errc::cluster_unavailable (the broker shares its registry with other
  // brokers, cannot reach it now, and does not hold `id` itself), errc::bad_response,
  // errc::rejected.
  template <asio::completion_token_for<completion_signature<peer_info>> Token = asio::use_awaitable_t<>>
  auto lookup(std::string_view id, Token&& token = {}) {
    return detail::initiate<peer_info>(
        std::forward<Token>(token), [s = state_, id = std::string(id)](error_code* ec) { return lookup_(s, id, ec); },
        [s = state_, id = std::string(id)](completion_handler<peer_info> h) { async_lookup_(s, id, std::move(h)); });
  }

  // Asks the broker to introduce us to `id` and punches; completes with the direct connection.
  // Deadline: options.timeout, or `timeout` (default: request_timeout + punch_timeout).
  // errc::invalid_peer_id, errc::not_registered (register_self() first, or the broker forgot
  // us and registering again failed), errc::peer_not_found, errc::broker_unreachable,
  // errc::rate_limited, errc::cluster_unavailable (as for lookup()), errc::bad_response,
  // errc::rejected, errc::key_mismatch (the broker reports another key than
  // options.expected_key), errc::punch_timeout (no pair answered), errc::handshake_failed (the
  // peer's ephemeral key was unusable); while registering again: errc::id_taken,
  // errc::registry_full, errc::authentication_failed.
  template <asio::completion_token_for<completion_signature<connection>> Token = asio::use_awaitable_t<>>
  auto connect(std::string_view id, Token&& token = {}) {
    return connect(id, connect_options{}, std::forward<Token>(token));
  }
  template <asio::completion_token_for<completion_signature<connection>> Token = asio::use_awaitable_t<>>
  auto connect(std::string_view id, std::chrono::milliseconds timeout, Token&& token = {}) {
    return connect(id, connect_options{.timeout = timeout, .expected_key = {}}, std::forward<Token>(token));
  }
  template <asio::completion_token_for<completion_signature<connection>> Token = asio::use_awaitable_t<>>
  auto connect(std::string_view id, connect_options options, Token&& token = {}) {
    return detail::initiate<connection>(
        std::forward<Token>(token),
        [s = state_, id = std::string(id), options](error_code* ec) { return connect_(s, id, options, ec); },
        [s = state_, id = std::string(id), options](completion_handler<connection> h) {
          async_connect_(s, id, options, std::move(h));
        });
  }

  // Waits for an introduction and punches back; completes with the direct connection.
  // Only the two codes every step may give.
  template <asio::completion_token_for<completion_signature<connection>> Token = asio::use_awaitable_t<>>
  auto accept(Token&& token = {}) {
    return detail::initiate<connection>(
        std::forward<Token>(token), [s = state_](error_code* ec) { return accept_(s, ec); },
        [s = state_](completion_handler<connection> h) { async_accept_(s, std::move(h)); });
  }

  void on_event(std::function<void(const session_event&)> handler);
  endpoint local_endpoint() const;
  const public_key& key() const noexcept;  // our identity key
  const session_stats& stats() const noexcept;
  const session_options& options() const noexcept;
  // The broker we register at now (options.broker until a failover moved us).
  endpoint broker() const;
  // Stops the keepalive, closes every connection's path and the socket.
  void close();

private:
  // The steps' coroutines (session.cpp), on the state the session had when the step started:
  // each stores its failure in *ec, or throws it with its message when ec is null; the
  // async_ forms run them for any other token.
  using state_ptr = std::shared_ptr<detail::session_state>;
  static asio::awaitable<registration_info> register_self_(state_ptr s, std::chrono::milliseconds timeout,
                                                           error_code* ec);
  static void async_register_self_(state_ptr s, std::chrono::milliseconds timeout,
                                   completion_handler<registration_info> handler);
  static asio::awaitable<peer_info> lookup_(state_ptr s, std::string id, error_code* ec);
  static void async_lookup_(state_ptr s, std::string id, completion_handler<peer_info> handler);
  static asio::awaitable<connection> connect_(state_ptr s, std::string id, connect_options options, error_code* ec);
  static void async_connect_(state_ptr s, std::string id, connect_options options,
                             completion_handler<connection> handler);
  static asio::awaitable<connection> accept_(state_ptr s, error_code* ec);
  static void async_accept_(state_ptr s, completion_handler<connection> handler);

  state_ptr state_;
};

}  // namespace punch
