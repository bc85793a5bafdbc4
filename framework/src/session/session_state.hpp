// The peer session's private state, shared by the session handle, its receive loop, its
// punch attempts and its connections (private header). Its members are defined in the file
// named beside each group below.
#pragma once

#include "punch/connection.hpp"
#include "punch/identity.hpp"
#include "punch/session.hpp"
#include "punch/transport.hpp"
#include "punch/wire/protocol.hpp"
#include "punch/wire/stun.hpp"
#include "session/clock.hpp"
#include "session/datagram_batch.hpp"
#include "session/fail.hpp"
#include "session/one_shot_event.hpp"
#include "session/punch_attempt.hpp"
#include "session/random_ids.hpp"
#include "session/remote_candidate.hpp"
#include "session/transaction.hpp"
#include "session/turn_client.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace punch::detail {

// One session's state (session_state.cpp: made, shut down).
struct session_state : std::enable_shared_from_this<session_state> {
  session_state(transport& t, session_options o);

  transport& net;  // opens the port-prediction sockets
  asio::any_io_executor ex;
  punch::clock& time;  // options.clock, or the steady clock: every timer and deadline of the session
  session_options options;
  tick_grid grid;  // when its connections' tickers wake (clock.hpp)
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
  // Peer failover (failover.cpp): options.broker, then options.fallback_brokers; broker_main
  // and broker_alt are those of brokers[broker_index].
  std::vector<broker_address> brokers;
  std::size_t broker_index = 0;
  clock::time_point last_broker_answer{};  // when the current broker last answered us
  bool failing_over = false;
  std::vector<std::byte> relay_nonce;  // the relay's latest NONCE, for the next ALLOCATE
  nat_mapping nat = nat_mapping::unknown;  // ours, measured against the broker's other port
  // Fired when the discovery that runs beside a registration has ended (or none runs):
  // connect() waits for it, so that the broker introduces us with our NAT-MAPPING.
  detail::one_shot_event nat_settled;
  // Fired when the TURN allocation begun beside the first registration has an outcome the broker
  // knows (turn_allocated emitted, or refused everywhere), or when none is made: connect()
  // waits for it, bounded by relay_after (session.cpp).
  detail::one_shot_event turn_settled;
  std::uint32_t ciphers = 0;  // what we offer in CIPHERS (wire::cipher bits)
  std::optional<endpoint> other_address;  // the broker's other port (OTHER-ADDRESS), if any
  std::chrono::milliseconds broker_rtt{0};  // the last round trip to the broker (unretransmitted requests)
  std::function<void(const session_event&)> on_event;
  bool closed = false;

  // registration
  bool registered = false;
  bool keepalive_running = false;
  registration_info registration;
  punch::timer keepalive_timer;
  std::vector<endpoint> host_candidates;

  // port mapping on our gateway (port_mapping.cpp; the protocols in port_mapper.hpp)
  std::shared_ptr<class port_mapper> mapper;
  std::optional<endpoint> mapped;            // what the gateway granted: our MAPPED-CANDIDATE
  std::optional<endpoint> announced_mapped;  // what the broker's last answered Register carried
  std::optional<session_event> pending_mapping_event;  // a grant during our first registration
  // Starts the mapper (once; options.port_mapping.enabled): called beside the first registration.
  void start_port_mapping();
  void on_port_mapping(const outcome<struct port_grant>& r);

  // Candidates learnt beside the registration, never waited for (late_candidates.cpp): a port
  // mapping, a TURN allocation. Their event (`e`) is emitted once the broker knows them:
  // held until the first registration ends, or after a Register of their own when the last
  // answered one (`carried`: false) did not carry them.
  void announce_late(session_event e, std::optional<session_event>& pending, bool carried);
  // The first registration answered: announces what came meanwhile (port mapping, TURN).
  void late_candidates_registered();
  // Registers again so that the broker has our new candidates, then emits `e`.
  asio::awaitable<void> announce(session_event e);
  // Emits a late candidate's event; a TURN allocation's also fires turn_settled.
  void emit_late(session_event e);

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

  // The receive loop takes up to receive_batch datagrams per operation (one recvmmsg on udp).
  // It starts with 2 slots (4 KiB) and grows to receive_batch (32 KiB) the first time a
  // receive fills them all: a session that never sees a burst stays small.
  static constexpr std::size_t receive_batch = 16;
  detail::receive_slots rx{2, 2048};
  // connection::send_batch seals into this batch, lent to one send_batch at a time (made at
  // the first; a concurrent one makes its own).
  static constexpr std::size_t send_batch_size = 64;
  std::unique_ptr<detail::frame_batch> tx_batch;
  bool tx_batch_busy = false;

  void emit(session_event e) {
    if (on_event) on_event(e);
  }
  void shutdown();

  // receive loop and demultiplexing (demux.cpp)
  asio::awaitable<void> receive_loop();
  // What a receive loop does after a receive on `s`: stop (the session or the socket closed,
  // or 64 errors in a row: ICMP errors surface on receive on some platforms, and a stream of
  // them means a dead socket), skip one error, or handle the datagram.
  enum class after_receive { stop, skip, handle };
  after_receive judge(const error_code& ec, const datagram_socket& s, int& consecutive_errors) const;
  // `via`: 0, or turn_via for a peer's datagram unwrapped from our TURN allocation.
  asio::awaitable<void> handle_stun(std::span<const std::byte> d, const endpoint& from, std::size_t via = 0);
  void handle_frame(std::span<std::byte> d, const endpoint& from, std::size_t via = 0,
                    const punch_attempt* owner = nullptr);
  // A frame for an attempt whose connection is not made yet: held until it is (bounded).
  void hold_early_frame(std::span<const std::byte> d, const endpoint& from, std::size_t via,
                        const punch_attempt* owner);

  // Expected failures (a timeout, a refusal, a closed session) are returned as values
  // (session/fail.hpp), never thrown: a retry looks at the code, not at an exception.

  // transactions with the broker and the relay: send, retransmit, match the answer (request_client.cpp)
  struct response {
    std::vector<std::byte> bytes;
    stun::message msg;
  };
  // `build` adds the request's attributes. `sign`: end the request with our SIGNATURE over it
  // (after the PADDING). `server`: the broker (default) or the relay.
  asio::awaitable<detail::outcome<response>> request(std::uint16_t method, std::function<void(stun::builder&)> build,
                                    clock::time_point deadline, std::string_view what, bool sign = false,
                                    std::optional<endpoint> server = std::nullopt);

  // registration, its keepalive, and discovery of our NAT's mapping (registration.cpp)
  // Registers (or refreshes) over `link` (default: broker_main).
  asio::awaitable<detail::outcome<registration_info>> do_register(clock::time_point deadline, broker_link* link = nullptr);
  // Registers over the other family too (best effort): `info.reflexive_other`.
  asio::awaitable<void> register_other_family(registration_info& info, clock::time_point deadline);
  // One Binding to the broker's other port: the same reflexive address means an easy NAT.
  asio::awaitable<void> discover_nat(const registration_info& info, clock::time_point deadline);
  // Our wall clock (with options.wall_clock_offset) as a TIMESTAMP: ms since 1970 UTC.
  std::uint64_t timestamp_now() const;
  // discover_nat beside the registration just made at brokers[broker_index], then the refresh
  // that tells the broker what it measured; fires nat_settled.
  asio::awaitable<void> discover_beside(registration_info info, clock::time_point deadline, bool measure);
  asio::awaitable<void> keepalive_loop();

  // peer failover: several brokers, the current one, moving to the next (failover.cpp)
  // Makes brokers[i] the current broker: fresh links (no nonce, no credential yet), its second
  // port unknown until it answers; requests waiting for the broker left end at once.
  void use_broker(std::size_t i);
  // Registers at the brokers in turn, starting `skip` places after the current one, each
  // given `per_broker`: discovery of our NAT (if not measured yet) and the other family
  // included. Silence moves on to the next broker; so does any other failure when
  // `any_failure_moves_on`. All fail: the current broker stays what it was.
  asio::awaitable<detail::outcome<registration_info>> register_in_turn(std::size_t skip,
                                                                       std::chrono::milliseconds per_broker,
                                                                       bool any_failure_moves_on);
  // The current broker stopped answering: registers at the next one that answers (wrapping
  // around), emits broker_changed. False: none did (or one failover is already under way).
  asio::awaitable<bool> fail_over();
  // How long a keepalive refresh waits for the broker: with brokers to fail over to, the
  // request timeout less the time registering at the next one takes, so that the move ends
  // within keepalive + request_timeout of the broker's death.
  std::chrono::milliseconds refresh_budget() const;

  // introductions: asking for one, answering one (introduction.cpp)
  // Connect: asks the broker to introduce us to `target` (for a live connection, with its
  // RESUME); registers again once if the broker forgot us.
  asio::awaitable<detail::outcome<response>> introduce_me(const std::string& target, const std::array<std::byte, wire::resume_size>* resume,
                                         clock::time_point deadline, const std::string& what);
  // Lookup: what the broker knows of `target` (session::lookup, and port prediction's second
  // look at a peer's NAT).
  asio::awaitable<detail::outcome<peer_info>> look_up(const std::string& target, clock::time_point deadline,
                                                      const std::string& what);
  // The broker's Introduce (`m`, from `from`): acknowledged, then punched (or resumed).
  asio::awaitable<void> handle_introduce(const stun::message& m, const endpoint& from);
  asio::awaitable<void> accept_introduction(std::shared_ptr<punch_attempt> a);

  // a punch attempt's life: made, finished, dropped (punch_attempt.cpp)
  std::shared_ptr<punch_attempt> make_attempt(const wire::token& token, std::string peer,
                                              bool controlling, const peer_info& remote);
  void finish_attempt(punch_attempt& a);
  // An attempt that ends without a connection: finished, forgotten, its held frames dropped.
  void drop_attempt(punch_attempt& a);

  // punch checks: scheduling, sending, answering (checks.cpp)
  // Punches until a pair answers (or fails with errc::punch_timeout); run_punch without the connection.
  asio::awaitable<detail::outcome<void>> punch(std::shared_ptr<punch_attempt> a, clock::time_point deadline);
  asio::awaitable<detail::outcome<std::shared_ptr<connection_state>>> run_punch(std::shared_ptr<punch_attempt> a,
                                                                                clock::time_point deadline);
  // Relayed: keeps sending checks on the direct pairs, so that a hole that opens late is found.
  asio::awaitable<void> keep_trying_direct(std::shared_ptr<punch_attempt> a);
  asio::awaitable<void> send_check(punch_attempt& a, remote_candidate to, bool nominate);
  // `via`: the socket it came on (0: the session's; else a prediction socket of `owner`).
  asio::awaitable<void> handle_check_request(const stun::message& m, const endpoint& from, std::size_t via = 0,
                                             const punch_attempt* owner = nullptr);
  void handle_check_response(const stun::message& m, const endpoint& from, std::size_t via = 0);
  // The socket of a candidate pair (the session's when the prediction socket is gone).
  datagram_socket& socket_of(const punch_attempt& a, std::size_t via);

  // the handshake on the checks, and the connection made from it (handshake.cpp)
  // Finishes a check or check answer: EPHEMERAL-KEY, HANDSHAKE-SIGNATURE, MESSAGE-INTEGRITY-SHA256.
  std::span<const std::byte> seal_check(punch_attempt& a, stun::builder& b);
  // Verifies a check or check answer from the peer of `a` (integrity, then signature) and
  // learns its ephemeral key; counts what it rejects.
  bool authentic(punch_attempt& a, const stun::message& m);
  detail::outcome<std::shared_ptr<connection_state>> make_connection(punch_attempt& a);

  // nomination by the controlling side (nomination.cpp)
  // Sends USE-CANDIDATE checks to `to` until one is answered; the answer moves the
  // connection there (the upgrade from the relay to a direct path).
  asio::awaitable<void> nominate(std::shared_ptr<punch_attempt> a, remote_candidate to);
  void switch_path(punch_attempt& a, const remote_candidate& to);

  // the relay (relay_client.cpp)
  // At relay_after without an answered pair: ALLOCATE at the relay, whose endpoint then
  // becomes a candidate like any other (checks and frames go through it).
  asio::awaitable<void> allocate_relay(std::shared_ptr<punch_attempt> a, clock::time_point deadline);

  // TURN (turn_client.cpp: requests, allocation, refresh, permissions, channels;
  // turn_socket.cpp: what goes through it). The allocation in use, if any.
  std::shared_ptr<turn_allocation> turn;
  std::optional<endpoint> announced_turn;  // the relayed address the broker's last answered Register carried
  std::optional<session_event> pending_turn_event;  // an allocation made during our first registration
  bool turn_announced() const { return turn && turn->live && announced_turn == turn->relayed; }
  // Allocates at the first of options.turn_servers that accepts; turn_failed for each that does not.
  asio::awaitable<detail::outcome<void>> allocate_turn(clock::time_point deadline);
  // A request to `turn`'s server with the long-term credential rounds (401, one 438).
  asio::awaitable<detail::outcome<response>> turn_request(std::uint16_t method, std::function<void(stun::builder&)> build,
                                                          clock::time_point deadline, std::string_view what);
  asio::awaitable<detail::outcome<std::vector<std::byte>>> turn_exchange(
      const stun::transaction_id& id, std::span<const std::byte> req, clock::time_point deadline, std::string_view what,
      const std::function<bool(std::span<const std::byte>)>& valid);
  asio::awaitable<void> keep_turn(std::shared_ptr<turn_allocation> t, std::chrono::seconds lifetime);
  // A new allocation after the one in use was lost, with a backoff between tries (its timer).
  asio::awaitable<void> reallocate_turn();
  std::shared_ptr<punch::timer> turn_retry_timer;
  asio::awaitable<void> turn_permit(std::vector<asio::ip::address> peers, clock::time_point deadline);
  // At relay_after without an answered pair: CreatePermission for the peer's addresses.
  asio::awaitable<void> permit_turn_for(std::shared_ptr<punch_attempt> a, clock::time_point deadline);
  // ChannelBind for `peer` (a new channel when `channel` is 0; else that one again, to refresh it).
  asio::awaitable<void> turn_bind(endpoint peer, std::uint16_t channel = 0);
  // A datagram from the TURN server: ChannelData or a Data indication unwrapped and handled.
  // False: not one of those (a response to one of our TURN requests: handle_stun's).
  asio::awaitable<bool> handle_turn(std::span<std::byte> d, const endpoint& from);
  void release_turn();

  // port prediction (prediction.cpp)
  // Started with run_punch unless both sides are known alike (both hard, both easy); waits
  // options.prediction.after, then sprays (hard side) or probes (easy side).
  asio::awaitable<void> predict(std::shared_ptr<punch_attempt> a);
  // Whether prediction applies (one NAT hard, the other easy) by what is known when it is due.
  asio::awaitable<bool> prediction_applies(punch_attempt& a);
  asio::awaitable<void> spray(std::shared_ptr<punch_attempt> a, clock::time_point until);
  asio::awaitable<void> probe(std::shared_ptr<punch_attempt> a, clock::time_point until);
  asio::awaitable<void> spray_receive(std::weak_ptr<punch_attempt> owner, std::size_t via,
                                      std::shared_ptr<datagram_socket> s);
  // Closes the prediction sockets that the connection does not use.
  void prune_spray(punch_attempt& a);
  // Drops the bookkeeping of prediction's unanswered checks once it is over.
  void forget_prediction_checks(punch_attempt& a);

  // The path policy (path_policy.cpp; options.path_policy).
  // Through one of our relays: our punch-relay allocation, or our TURN allocation (turn_via).
  bool ours_relayed(const endpoint& to, std::size_t via) const {
    return via == turn_via || (options.relay && to == *options.relay && via == 0);
  }
  // Whether the policy lets us send to `to` on `via` (a pair of that kind), or answer from there.
  bool allowed(const endpoint& to, std::size_t via, path_kind kind) const;
  bool allowed(const remote_candidate& r) const { return allowed(r.address, r.via, r.kind); }
  // Waits until `at`, when a relay is due for `a`: false when it is not needed after all (a
  // direct pair answered meanwhile, unless adaptive keeps a relayed one ready) or we closed.
  asio::awaitable<bool> relay_due(punch_attempt& a, clock::time_point at);
  // path_mode::adaptive, on the controlling side: probes the direct pair, keeps the relayed one
  // ready, and nominates one or the other as the direct pair's loss crosses the thresholds.
  asio::awaitable<void> adapt_path(std::weak_ptr<connection_state> c);

  // When the network changes (roaming.cpp).
  // Re-registers (once for every connection that asks within relocation_reuse): our address
  // as the broker now sees it, our host candidates gathered again.
  asio::awaitable<void> relocate();
  struct relocation {
    relocation(const asio::any_io_executor& ex, punch::clock& time) : done(ex, time) {}
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
};

}  // namespace punch::detail
