// The broker's private state (private header), shared by the request handlers in broker.cpp,
// binding.cpp and register.cpp and the Connect/Introduce machinery in connect.cpp. The wire
// rules it implements are in docs/protocol.md.
#pragma once

#include "server/error_answer.hpp"
#include "server/load_meter.hpp"
#include "server/nonce.hpp"
#include "server/rate_limit.hpp"
#include "server/serve_loop.hpp"
#include "broker/cluster_link.hpp"
#include "broker/refresh.hpp"
#include "broker/replay_cache.hpp"

#include "punch/broker.hpp"
#include "punch/clock.hpp"
#include "punch/wire/protocol.hpp"
#include "punch/wire/stun.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace punch {
namespace detail {

// Every response fits in max(request size, response_floor) bytes, so the broker never
// amplifies a spoofed request by more than that floor (docs/protocol.md, "Amplification").
inline constexpr std::size_t response_floor = 64;
// An error answer (server/error_answer.hpp) fits response_floor.
static_assert(stun::header_size + 8 + max_reason_size + stun::fingerprint_size <= response_floor);
// Peers pad requests to wire::answer_bound; the answers must stay within it (the values
// docs/protocol.md quotes). A Register's challenge (401, 438) adds a NONCE to an error, which
// takes it past the floor: it is sent only to requests as large as it (peers pad to
// answer_bound::reg, refreshes included), and the success answer to a signed Register adds a
// REFRESH-CREDENTIAL of the NONCE's size.
static_assert(wire::answer_bound::lookup == 404 && wire::answer_bound::connect == 448);
static_assert(wire::answer_bound::reg == 108 && wire::answer_bound::reg_success == 108);
static_assert(stun::header_size + 8 + max_reason_size + 4 + wire::nonce_size + stun::fingerprint_size <=
              wire::answer_bound::reg);

// Retransmitted Connects are answered from this cache instead of introducing twice.
inline constexpr std::chrono::seconds connect_cache_ttl{10};

// A STUN attribute the broker understands when it asks for nothing (RFC 5780 §7.2).
inline constexpr std::uint16_t change_request_attr = 0x0003;

// Why `id` is not a valid peer id, in at most max_reason_size bytes; empty when it is.
inline std::string_view id_problem(std::string_view id, bool target) {
  if (wire::valid_peer_id(id)) return {};
  if (id.empty()) return target ? "TARGET-ID is empty" : "PEER-ID is empty";
  if (id.size() > wire::max_peer_id_size) return target ? "TARGET-ID over 64 bytes" : "PEER-ID over 64 bytes";
  return target ? "TARGET-ID: bad character" : "PEER-ID has a bad character";
}

// One Introduce exchange with a target peer, shared by its coroutine and the broker. Once
// `stopped` is set the broker may be gone: the coroutine then touches nothing but this.
struct introduction {
  introduction(const asio::any_io_executor& ex, punch::clock& time) : timer(ex, time) {}
  stun::transaction_id id{};
  endpoint to;                    // the target's reflexive endpoint, in the socket's family
  broker_event event;             // id = requester, target, token
  std::vector<std::byte> request; // the Introduce, resent as is
  punch::timer timer;
  bool acked = false;
  bool rejected = false;          // the target answered with an error response
  bool stopped = false;
  bool unproven = false;          // the target registered on a TIMESTAMP and has not refreshed yet:
                                  // a retransmission is sent only once it has (connect.cpp)
};

// A Connect already answered: the same transaction from the same source gets `answer` again.
struct connect_record {
  stun::transaction_id id{};
  endpoint from;
  clock::time_point at{};
  std::vector<std::byte> answer;
};

// What every handler needs to know about the request it answers.
struct request {
  const stun::message& msg;
  const endpoint& from;       // the source as the socket reports it (answers go there)
  endpoint source;            // the same, IPv4-mapped IPv6 unmapped (what we store and report)
  std::size_t budget;         // the largest answer allowed: max(request size, response_floor)
  clock::time_point now;
};

}  // namespace detail

// Hidden: a nested class of an exported one would otherwise be exported with it.
struct PUNCH_LOCAL broker::impl final : detail::datagram_service {
  using request = detail::request;
  using clock = detail::clock;

  impl(datagram_socket& s, registry& r, broker_options o);

  // Handles one datagram; returns the answer to send to `from` (empty: none), written into
  // `answer` (which stays untouched until the caller's next call).
  std::span<const std::byte> respond(std::span<const std::byte> datagram, const endpoint& from,
                                    clock::time_point now, std::span<std::byte> answer);

  // datagram_service: what the serve loop calls.
  punch::clock& time() const noexcept override { return options.clock ? *options.clock : steady_clock(); }
  detail::reply handle(std::span<const std::byte> datagram, const endpoint& from, clock::time_point now,
                       std::span<std::byte> answer) override {
    return {respond(datagram, from, now, answer), from};
  }
  void expire(clock::time_point now) override;
  duration_histogram& handling_times() noexcept override { return stats.handling; }
  void received_batch(std::size_t) noexcept override { ++stats.batches; }

  // binding.cpp: Binding, from RFC 8489 and RFC 3489 clients.
  std::span<const std::byte> on_binding(const request& r);
  std::span<const std::byte> on_classic_binding(std::span<const std::byte> datagram,
                                                const endpoint& from, clock::time_point now);
  // broker.cpp: Lookup and the error answers.
  std::span<const std::byte> on_lookup(const request& r);
  std::span<const std::byte> error(const request& r, int code, std::string_view reason);
  std::span<const std::byte> unknown_attributes(const request& r);

  // register.cpp: Register, signed over a NONCE or refreshed with a credential.
  std::span<const std::byte> on_register(const request& r);
  // A Register with REFRESH-CREDENTIAL and no NONCE: `entry` is what it asks to register,
  // `credential` the attribute's value.
  std::span<const std::byte> on_refresh(const request& r, registration_record& entry, std::chrono::seconds lifetime,
                                        std::span<const std::byte> credential);
  // The signed Register in `entry` is fresh (its NONCE or TIMESTAMP was good, issued at
  // `issued`, seconds of the steady clock): stores it (after the cluster's claim) unless it is
  // older than what is registered.
  std::span<const std::byte> register_verified(const request& r, registration_record& entry,
                                               std::chrono::seconds lifetime, std::uint32_t issued);
  // fresh_register.cpp: a Register signed over TIMESTAMP `stamp`, without a NONCE: taken on
  // its first datagram when fresh, unseen and the broker not busy; else the NONCE challenge.
  std::span<const std::byte> on_timestamped(const request& r, registration_record& entry,
                                            std::chrono::seconds lifetime, const stun::attribute& stamp);
  // True in cookie mode: the signatures verified in the last second reach options.cookie_threshold.
  bool busy(clock::time_point now) { return verifications.last_second(now) >= options.cookie_threshold; }
  // 401 or 438 with a fresh NONCE for the request's source (400 "pad request" when that
  // would be larger than the request).
  std::span<const std::byte> challenge(const request& r, int code, std::string_view reason);
  // Stores a verified Register's `entry` and answers it (a new registration or a refresh).
  std::span<const std::byte> accept_registration(const request& r, registration_record& entry,
                                                 std::chrono::seconds lifetime, bool refresh);
  // True if the request's SIGNATURE is `key`'s over everything before it, and nothing but
  // FINGERPRINT follows it (the attributes after a signature are not covered by it).
  bool signed_by(const request& r, const public_key& key);
  // PEER-ID, PUBLIC-KEY, REFLEXIVE-CANDIDATE and HOST-CANDIDATEs of `peer`.
  static void add_candidates(stun::builder& b, const registration_record& peer);
  // True if the success answer in `b` plus FINGERPRINT fits the request's budget.
  bool fits(const request& r, const stun::builder& b) const;
  // Finishes a success answer with FINGERPRINT, or answers 400 (pad the request) when it
  // would not fit the budget, or 500 when the builder failed.
  std::span<const std::byte> finish(const request& r, stun::builder& b);
  // 400 "pad request to N bytes": the answer would be `answer_size` bytes.
  std::span<const std::byte> pad_error(const request& r, std::size_t answer_size);

  // connect.cpp: Connect, the cache, Introduce and its acknowledgements.
  std::span<const std::byte> on_connect(const request& r);
  // `forwarded`: passed on by a sibling broker, not to be passed on again.
  void on_introduce_answer(const stun::message& m, const endpoint& from, bool forwarded = false);
  // Posts an Introduce answer this broker did not ask for to every sibling.
  void forward_introduce_answer(const stun::message& m, const endpoint& from);
  asio::awaitable<void> run_introduction(std::shared_ptr<detail::introduction> in);
  // Parts of a Connect's answer and introduction, shared with cluster_connect().
  static void add_connect_answer(stun::builder& b, const request& r, const registration_record& peer,
                                 const wire::token& token);
  // The Introduce of `me` to a target with `token` (and RESUME, if not empty), under a new
  // transaction id; false if it does not fit.
  static bool make_introduce(std::vector<std::byte>& bytes, stun::transaction_id& id, const registration_record& me,
                             const wire::token& token, std::span<const std::byte> resume);
  // Sends `request` to `to` and retransmits it until acknowledged (run_introduction).
  // Sends to `target`'s reachable endpoint; retransmits only once that address is proven.
  bool proven(std::string_view target, const endpoint& to, bool& unproven);
  void start_introduction(const stun::transaction_id& id, const registration_record& target, broker_event event,
                          std::vector<std::byte> request);
  // Keeps a Connect's answer for its retransmissions.
  void remember_connect(const request& r, std::span<const std::byte> answer);

  // cluster_register.cpp: claims of ids in the cluster, the store's state, the re-claim.
  std::span<const std::byte> claim(const request& r, const registration_record& entry, std::chrono::seconds lifetime,
                                   bool refresh);
  void hold(std::string_view id);
  void on_store_state(cluster_state s);
  void reclaim_batch(std::uint64_t round);
  // cluster_lookup.cpp: Lookup and Connect of peers held by other brokers, and their answers.
  std::span<const std::byte> cluster_lookup(const request& r, std::string_view id);
  std::span<const std::byte> cluster_connect(const request& r, const registration_record& me, std::string_view target,
                                             std::span<const std::byte> resume);
  // A copy of `r` (a Lookup or Connect of an id not held here) to answer when the cluster's
  // find() has; null when it is a retransmission (nothing to send) or cannot wait (the answer
  // to send now in `now_answer`: 503 while the store is down, 429 when too many wait).
  std::shared_ptr<detail::waiting_request> find_elsewhere(const request& r, std::span<const std::byte>& now_answer);
  // The error answer to a request whose find() found no peer held by another broker; empty when it did.
  std::span<const std::byte> not_found_elsewhere(const request& q, const error_code& ec, const cluster_entry& e);
  // An Introduce another broker handed over, for a peer held here.
  void take_introduction(const cluster_introduction& in);
  // True if `r` is a retransmission of a request that waits for the cluster.
  bool waits_for_cluster(const request& r) const;
  // A copy of `r` to answer later; null (and the answer to send now in `refusal`) when the
  // store is down or too many requests wait.
  std::shared_ptr<detail::waiting_request> wait_for_cluster(const request& r, std::span<const std::byte>& refusal);
  // The cluster answered `w`: `build` writes the answer (into `out`) for the request parsed
  // again, and it is sent from the socket.
  void answer_waiting(const detail::waiting_request& w, const std::function<std::span<const std::byte>(const request&)>& build);
  // Sends the answers answer_waiting queued, as one batch (cluster_link's answer_batch).
  void send_answers();
  void stop_introductions();

  void emit(const broker_event& e) {
    if (on_event) on_event(e);
  }
  // Records filled by the registry on the hot path (no allocation per request).
  registration_record found_a, found_b;
  // The socket's form of an endpoint we store unmapped (IPv4 on an IPv6 socket → mapped).
  endpoint socket_form(const endpoint& ep) const;
  // Where an Introduce reaches `peer` from our socket: its reflexive address, or its other
  // family's when our socket cannot send to that one.
  endpoint reachable(const registration_record& peer) const;

  datagram_socket& socket;
  registry& reg;
  broker_options options;
  broker_stats stats;
  detail::nonce_issuer nonces;
  detail::refresh_issuer credentials;
  detail::rate_limiter limiter;
  detail::replay_cache replays;      // timestamped Registers taken (fresh_register.cpp)
  detail::load_meter verifications;  // signature verifications, for cookie mode
  std::function<void(const broker_event&)> on_event;
  bool v6_socket = false;

  detail::serve_loop server;
  // Fixed buffers: the answers never allocate.
  std::span<std::byte> out;  // the answer buffer of the datagram being handled
  std::array<std::byte, stun::max_message_size> scratch{};  // RFC 3489 requests, re-framed
  std::array<std::byte, stun::max_message_size> covered{};  // what a Register's SIGNATURE signs

  // A ring of recent Connect answers (options.connect_cache_size) and its index by transaction.
  std::vector<detail::connect_record> connects;
  std::map<stun::transaction_id, std::size_t> connect_index;
  std::size_t next_connect = 0;
  std::map<stun::transaction_id, std::shared_ptr<detail::introduction>> introductions;
  std::vector<broker_event> expired;  // collected during registry::expire, emitted after
  std::vector<broker*> siblings;      // brokers sharing the port on other threads
  std::unique_ptr<detail::cluster_link> link;  // with options.cluster: this broker's side of it
};

}  // namespace punch
