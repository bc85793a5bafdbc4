// A direct datagram connection to another peer, found by hole punching.
#pragma once

#include "punch/export.hpp"

#include "punch/identity.hpp"
#include "punch/transport.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <memory>
#include <string>

namespace punch {

// Which of the remote peer's candidates the path goes to.
enum class path_kind {
  host,            // an interface address the peer announced (same LAN / same NAT)
  reflexive,       // the address the broker saw (the peer's NAT mapping)
  peer_reflexive,  // learned from a check that arrived from an unexpected address
  predicted,       // found by port prediction: one NAT hard, the other easy (docs/nat-traversal.md)
  relay,           // through a relay (session_options::relay), when no direct path opens
};
PUNCH_EXPORT const char* to_string(path_kind k) noexcept;

struct connection_state;

// A handle: copies refer to the same connection. Datagrams, not a stream: one send is one
// receive on the other side, or nothing (UDP loses and reorders).
class PUNCH_EXPORT connection {
public:
  connection() = default;
  explicit connection(std::shared_ptr<connection_state> s) : state_(std::move(s)) {}

  // Sends one datagram (at most max_payload() bytes).
  asio::awaitable<void> send(asio::const_buffer data);
  // Receives one datagram; errc::connection_closed once the peer closed the connection,
  // errc::timeout when nothing was heard for the idle timeout.
  asio::awaitable<std::size_t> receive(asio::mutable_buffer data);
  // Tells the other side (retransmitted until acknowledged or 1 s passed) and closes.
  asio::awaitable<void> close();

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
  std::shared_ptr<connection_state> state_;
};

}  // namespace punch
