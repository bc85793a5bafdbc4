// A direct datagram connection to another peer, found by hole punching. Its operations take
// any completion token, error_code first (punch/async.hpp).
#pragma once

#include "punch/export.hpp"

#include "punch/async.hpp"
#include "punch/identity.hpp"
#include "punch/stream.hpp"
#include "punch/transport.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <memory>
#include <span>
#include <string>

namespace punch {

// Which of the remote peer's candidates the path goes to.
enum class path_kind {
  host,            // an interface address the peer announced (same LAN / same NAT)
  reflexive,       // the address the broker saw (the peer's NAT mapping)
  peer_reflexive,  // learned from a check that arrived from an unexpected address
  predicted,       // found by port prediction: one NAT hard, the other easy (docs/nat-traversal.md)
  mapped,          // a port mapping the peer's gateway granted it (PCP, NAT-PMP, UPnP IGD)
  relay,           // through a relay (session_options::relay), when no direct path opens
};
PUNCH_EXPORT const char* to_string(path_kind k) noexcept;

namespace detail {
struct connection_state;  // private: framework/src/session/
}

// A handle: copies refer to the same connection. Datagrams, not a stream: one send is one
// receive on the other side, or nothing (UDP loses and reorders).
class PUNCH_EXPORT connection {
public:
  connection() = default;
  explicit connection(std::shared_ptr<detail::connection_state> s) : state_(std::move(s)) {}

  // How a connection ends, as its operations report it:
  //   asio::error::eof          receive: the peer closed it (its close(), its session's
  //                             close or end); what it sent before is received first
  //   errc::connection_closed   send: the peer closed it (as above)
  //   errc::timeout             nothing was heard from the peer for connection_idle_timeout
  //   errc::closed_locally      this side's close() (or the accept backlog was full)
  //   errc::session_closed      this side's session was closed
  //   errc::empty_connection    a default-constructed handle

  // Sends one datagram (at most max_payload() bytes); completes with void(error_code).
  // The ends above (not eof), errc::payload_too_large, or the transport's error (the
  // datagram was not sent: errc::socket_closed, a system error). `data` must stay valid
  // until the operation completes.
  template <asio::completion_token_for<completion_signature<void>> Token = asio::use_awaitable_t<>>
  auto send(asio::const_buffer data, Token&& token = {}) {
    return detail::initiate<void>(
        std::forward<Token>(token), [c = state_, data](error_code* ec) { return send_(c, data, ec); },
        [c = state_, data](completion_handler<void> h) { async_send_(c, data, std::move(h)); });
  }
  // Sends the datagrams in order, each as send() would, with as few system calls as the
  // transport allows (udp: one sendmmsg per 64); completes with void(error_code, std::size_t),
  // how many the network took (one refused on its own, such as by an ICMP error, is skipped,
  // as UDP may lose any). The errors of send(); errc::payload_too_large, for any one of them,
  // before any is sent; an end midway is reported with 0, though the datagrams before it may
  // have gone out. The buffers and the span must stay valid until the operation completes.
  template <asio::completion_token_for<completion_signature<std::size_t>> Token = asio::use_awaitable_t<>>
  auto send_batch(std::span<const asio::const_buffer> datagrams, Token&& token = {}) {
    return detail::initiate<std::size_t>(
        std::forward<Token>(token), [c = state_, datagrams](error_code* ec) { return send_batch_(c, datagrams, ec); },
        [c = state_, datagrams](completion_handler<std::size_t> h) { async_send_batch_(c, datagrams, std::move(h)); });
  }
  // Receives one datagram; completes with its size (a longer one is truncated to the buffer).
  // The ends above (eof, not connection_closed) or asio::error::operation_aborted (cancelled).
  // `data` must stay valid until the operation completes.
  template <asio::completion_token_for<completion_signature<std::size_t>> Token = asio::use_awaitable_t<>>
  auto receive(asio::mutable_buffer data, Token&& token = {}) {
    return detail::initiate<std::size_t>(
        std::forward<Token>(token), [c = state_, data](error_code* ec) { return receive_(c, data, ec); },
        [c = state_, data](completion_handler<std::size_t> h) { async_receive_(c, data, std::move(h)); });
  }
  // Its streams first end gracefully (SCTP's SHUTDOWN: what was written on them is
  // delivered, for at most stream_shutdown_timeout); then it tells the other side
  // (retransmitted until acknowledged or 1 s passed) and closes;
  // completes with void(error_code), the code always empty: a closed connection stays closed.
  template <asio::completion_token_for<completion_signature<void>> Token = asio::use_awaitable_t<>>
  auto close(Token&& token = {}) {
    return detail::initiate<void>(
        std::forward<Token>(token), [c = state_](error_code* ec) { return close_(c, ec); },
        [c = state_](completion_handler<void> h) { async_close_(c, std::move(h)); });
  }

  // Opens a reliable byte stream to the peer (punch/stream.hpp), which its accept_stream()
  // takes; completes with void(error_code, stream) once SCTP's association is up (at the
  // first stream, a round trip or two). The ends above, errc::streams_unavailable (built
  // without usrsctp) or errc::too_many_streams (all of this side's stream ids are in use).
  template <asio::completion_token_for<completion_signature<stream>> Token = asio::use_awaitable_t<>>
  auto open_stream(Token&& token = {}) {
    return open_stream(stream_options{}, std::forward<Token>(token));
  }
  // Opens a stream in the mode `options` says (punch/stream_options.hpp: messages, unordered,
  // partially reliable); the peer's accept_stream() learns them from the open message.
  // errc::bad_stream_options when they contradict each other.
  template <asio::completion_token_for<completion_signature<stream>> Token = asio::use_awaitable_t<>>
  auto open_stream(const stream_options& options, Token&& token = {}) {
    return asio::async_initiate<Token, completion_signature<stream>>(
        [c = state_, options](auto handler) { async_open_stream_(c, options, std::move(handler)); }, token);
  }
  // The next stream the peer opened; completes with void(error_code, stream). Streams the
  // peer opens before it is called wait for it (they count against the stream's buffer).
  template <asio::completion_token_for<completion_signature<stream>> Token = asio::use_awaitable_t<>>
  auto accept_stream(Token&& token = {}) {
    return asio::async_initiate<Token, completion_signature<stream>>(
        [c = state_](auto handler) { async_accept_stream_(c, std::move(handler)); }, token);
  }

  const std::string& peer() const;
  // The identity key the peer proved it holds in the connection's handshake.
  const public_key& peer_key() const;
  // The AEAD that seals this connection: "aes-256-gcm" or "xchacha20-poly1305".
  const char* cipher() const;
  endpoint remote_endpoint() const;
  path_kind path() const;
  bool is_open() const;
  static constexpr std::size_t max_payload() noexcept { return 1200; }

  explicit operator bool() const noexcept { return static_cast<bool>(state_); }

private:
  // The operations' coroutines (connection.cpp), on the state the handle held when the
  // operation started: each stores its failure in *ec, or throws it with its message when ec
  // is null; the async_ forms run them for any other token.
  static asio::awaitable<void> send_(std::shared_ptr<detail::connection_state> c, asio::const_buffer data, error_code* ec);
  static void async_send_(std::shared_ptr<detail::connection_state> c, asio::const_buffer data, completion_handler<void> handler);
  static asio::awaitable<std::size_t> send_batch_(std::shared_ptr<detail::connection_state> c,
                                                  std::span<const asio::const_buffer> datagrams, error_code* ec);
  static void async_send_batch_(std::shared_ptr<detail::connection_state> c, std::span<const asio::const_buffer> datagrams,
                                completion_handler<std::size_t> handler);
  static asio::awaitable<std::size_t> receive_(std::shared_ptr<detail::connection_state> c, asio::mutable_buffer data,
                                               error_code* ec);
  static void async_receive_(std::shared_ptr<detail::connection_state> c, asio::mutable_buffer data,
                             completion_handler<std::size_t> handler);
  static asio::awaitable<void> close_(std::shared_ptr<detail::connection_state> c, error_code* ec);
  static void async_close_(std::shared_ptr<detail::connection_state> c, completion_handler<void> handler);
  // stream.cpp (or no_streams.cpp).
  static void async_open_stream_(std::shared_ptr<detail::connection_state> c, const stream_options& options,
                                 completion_handler<stream> handler);
  static void async_accept_stream_(std::shared_ptr<detail::connection_state> c, completion_handler<stream> handler);

  std::shared_ptr<detail::connection_state> state_;
};

}  // namespace punch
