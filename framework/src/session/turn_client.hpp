// A TURN allocation of the session (RFC 8656; private header): the server, the long-term
// credential state (realm, nonce, key), the relayed address, the permissions and channels made
// for peers, and the socket through which checks and frames to a peer go via the server.
// turn_client.cpp makes and keeps it; turn_socket.cpp wraps and unwraps what goes through it.
#pragma once

#include "punch/transport.hpp"
#include "punch/turn.hpp"
#include "punch/wire/turn.hpp"
#include "punch/clock.hpp"
#include "session/clock.hpp"

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace punch::detail {

struct session_state;

// The `via` of a candidate pair that goes through our TURN allocation (remote_candidate::via:
// 0 is the session's socket, 1.. the port-prediction sockets).
inline constexpr std::size_t turn_via = std::numeric_limits<std::size_t>::max();

struct turn_allocation {
  turn_server server;
  turn_credentials credentials;
  std::string realm;
  std::vector<std::byte> nonce;
  turn::long_term_key key{};
  endpoint relayed;                 // XOR-RELAYED-ADDRESS: what peers send to
  clock::time_point expires{};
  bool live = false;                // allocated and not released or lost
  // Permissions (RFC 8656 §9: per IP address, 300 s) and channels (§12: 600 s), refreshed
  // together with the allocation.
  std::vector<asio::ip::address> permitted;
  std::map<endpoint, std::uint16_t> channel_of;
  std::map<std::uint16_t, endpoint> peer_of;
  std::vector<endpoint> binding;    // ChannelBind under way
  std::vector<endpoint> unbound;    // ChannelBind refused: Send indications only, not asked again
  std::uint16_t next_channel = turn::min_channel;
  datagram_socket socket;           // sends through the server (turn_socket.cpp)
  // keep_turn's wait for the next Refresh; cancelled on close, so that nothing is left
  // waiting on the io_context for minutes after the session ended.
  std::shared_ptr<punch::timer> refresh_timer;
};

// The socket_impl of turn_allocation::socket: a datagram to a peer leaves as ChannelData when
// a channel is bound to the peer, as a Send indication otherwise (and a ChannelBind starts).
datagram_socket make_turn_socket(std::weak_ptr<session_state> s);

}  // namespace punch::detail
