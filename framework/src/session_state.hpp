// The peer session's private state, shared by the session handle, its receive loop, its
// punch attempts and its connections (private header).
#pragma once

#include "punch/connection.hpp"
#include "punch/session.hpp"
#include "punch/wire/protocol.hpp"
#include "punch/wire/stun.hpp"
#include "signal.hpp"

#include <boost/asio/steady_timer.hpp>

#include <array>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
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
}  // namespace detail

// A broker request waiting for its response.
struct transaction {
  explicit transaction(const asio::any_io_executor& ex) : done(ex) {}
  detail::signal done;
  std::vector<std::byte> response;
};

struct remote_candidate {
  endpoint address;
  path_kind kind;
};

struct connection_state;

// One hole-punching attempt, keyed by the introduction's token. It stays registered while its
// connection lives, so late checks and nominations from the other side are still answered.
struct punch_attempt : std::enable_shared_from_this<punch_attempt> {
  punch_attempt(const asio::any_io_executor& ex) : done(ex), nominated(ex) {}
  wire::token token{};
  std::string peer;
  bool controlling = false;
  std::uint64_t tiebreaker = 0;
  std::vector<remote_candidate> remotes;
  clock::time_point started;
  detail::signal done;       // a pair answered (or was nominated to us)
  detail::signal nominated;  // controlling: the nomination was answered
  std::optional<remote_candidate> selected;
  std::vector<stun::transaction_id> checks;  // outstanding check ids, erased at the end
  std::weak_ptr<connection_state> conn;

  const remote_candidate* find(const endpoint& ep) const {
    for (const auto& r : remotes)
      if (r.address == ep) return &r;
    return nullptr;
  }
};

// A check we sent, so its response finds its attempt.
struct check_ref {
  std::weak_ptr<punch_attempt> attempt;
  endpoint target;
  bool nomination = false;
};

struct session_state : std::enable_shared_from_this<session_state> {
  session_state(transport& t, session_options o);

  asio::any_io_executor ex;
  session_options options;
  datagram_socket socket;
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
  std::unordered_map<wire::token, std::shared_ptr<punch_attempt>, detail::random_bytes_hash> punches;
  std::unordered_map<wire::connection_tag, std::weak_ptr<connection_state>> connections;

  // accept(): connections punched after an introduction, waiting to be taken.
  std::deque<std::shared_ptr<connection_state>> backlog;
  detail::signal accept_ready;

  std::array<std::byte, 2048> rx_buffer{};
  endpoint rx_from;

  void emit(session_event e) {
    if (on_event) on_event(e);
  }
  void shutdown();

  // receive loop and demultiplexing (session.cpp)
  asio::awaitable<void> receive_loop();
  asio::awaitable<void> handle_stun(std::span<const std::byte> d, const endpoint& from);
  void handle_frame(std::span<const std::byte> d, const endpoint& from);

  // broker transactions (session.cpp)
  struct response {
    std::vector<std::byte> bytes;
    stun::message msg;
  };
  template <typename Build>
  asio::awaitable<response> request(std::uint16_t method, Build&& build,
                                    clock::time_point deadline, std::string_view what);
  asio::awaitable<registration_info> do_register(clock::time_point deadline);
  asio::awaitable<void> keepalive_loop();

  // punching (punch.cpp)
  std::shared_ptr<punch_attempt> make_attempt(const wire::token& token, std::string peer,
                                              bool controlling, const peer_info& remote);
  asio::awaitable<std::shared_ptr<connection_state>> run_punch(std::shared_ptr<punch_attempt> a,
                                                               clock::time_point deadline);
  asio::awaitable<void> accept_introduction(std::shared_ptr<punch_attempt> a);
  asio::awaitable<void> nominate(std::shared_ptr<punch_attempt> a);
  asio::awaitable<void> send_check(punch_attempt& a, const endpoint& to, bool nominate);
  asio::awaitable<void> handle_check_request(const stun::message& m, const endpoint& from);
  void handle_check_response(const stun::message& m, const endpoint& from);
  void finish_attempt(punch_attempt& a);
  std::shared_ptr<connection_state> make_connection(punch_attempt& a);
};

// A connection's state (connection.cpp).
struct connection_state : std::enable_shared_from_this<connection_state> {
  connection_state(std::shared_ptr<session_state> s, std::shared_ptr<punch_attempt> a);
  ~connection_state();

  std::shared_ptr<session_state> session;
  std::shared_ptr<punch_attempt> attempt;
  std::string peer;
  wire::connection_tag tag = 0;
  endpoint remote;
  path_kind path = path_kind::reflexive;
  bool open = true;
  error_code close_reason;  // why receive() ends
  std::string close_text;

  clock::time_point last_heard;
  clock::time_point last_sent;

  // Inbound datagrams waiting for receive(); bounded like a socket buffer.
  static constexpr std::size_t max_queued = 256;
  std::deque<std::vector<std::byte>> inbound;
  std::vector<std::vector<std::byte>> spare;  // recycled buffers: no allocation once warm
  std::optional<asio::mutable_buffer> waiting;  // receive() parked with this buffer
  std::size_t delivered = 0;
  detail::signal readable;
  detail::signal close_acked;
  asio::steady_timer ticker;  // keepalive and idle detection
  std::array<std::byte, wire::frame_header_size + connection::max_payload()> tx_buffer{};
  bool tx_busy = false;
  std::uint64_t dropped = 0;

  void on_frame(std::span<const std::byte> d, const endpoint& from);
  void mark_closed(error_code why, std::string text, bool by_remote);
  asio::awaitable<void> send_control(wire::frame_kind kind);
  // One close frame, not waited for: when the connection ends without close() (the session
  // closes, every handle is dropped, the accept backlog is full) the other side still learns
  // of it at once instead of after its idle timeout.
  void send_farewell();
  static asio::awaitable<void> tick_loop(std::weak_ptr<connection_state> self);
};

}  // namespace punch
