// punch's error codes: one enum, one boost::system error_category ("punch").
#pragma once

#include "punch/export.hpp"

#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <string>
#include <type_traits>

namespace punch {

using error_code = boost::system::error_code;
using system_error = boost::system::system_error;

// Values are stable: they appear in logs and in the --events output.
enum class errc {
  // transports and plugins
  unknown_transport = 1,       // no transport registered under that name
  plugin_not_found,            // the plugin file does not exist or cannot be opened
  plugin_entry_missing,        // the shared object lacks the punch entry point
  plugin_version_mismatch,     // the plugin was built for another plugin ABI
  plugin_invalid,              // the entry point returned an unusable descriptor
  duplicate_transport,         // a transport with that name is already registered
  invalid_transport_option,    // a transport option has a bad value
  address_in_use,              // the local endpoint is taken
  address_not_available,       // the local address does not belong to this host
  socket_closed,               // operation on a closed socket

  // wire codec (RFC 8489 framing)
  truncated = 100,             // fewer bytes than a length field promises
  not_stun,                    // first two bits are not 00
  bad_magic_cookie,
  bad_message_length,          // header length is not a multiple of 4 or disagrees with the datagram
  bad_attribute_length,        // an attribute runs past the end of the message
  bad_padding,                 // padding bytes after an attribute value are non-zero
  bad_fingerprint,             // FINGERPRINT does not match, or is not the last attribute
  bad_attribute_value,         // a known attribute has a malformed value
  missing_attribute,           // a required attribute is absent
  unknown_required_attribute,  // comprehension-required attribute we do not understand
  message_too_large,           // the STUN encoder's buffer is too small for the message
  integrity_check_failed,      // MESSAGE-INTEGRITY-SHA256 does not verify

  // broker and sessions
  broker_unreachable = 200,    // no answer from the broker before the deadline
  peer_not_found,              // the broker has no registration for that id
  punch_timeout,               // no candidate pair answered before the deadline
  connection_closed,           // the remote peer closed the connection (receive gives asio::error::eof)
  invalid_peer_id,             // empty, too long, or bad characters
  registry_full,               // the broker cannot hold another registration
  not_registered,              // the operation needs register_self() first
  timeout,                     // a deadline passed
  bad_response,                // the broker answered with something unexpected
  rejected,                    // the broker or relay answered with an error code we do not know
  id_taken,                    // the id is registered by someone else
  rate_limited,                // the broker refuses: too many requests
  authentication_failed,       // the broker or relay did not accept our signature or credential
  key_mismatch,                // the peer's identity key is not the one expected
  bad_key_file,                // an identity key file is unreadable, malformed or not private
  // Split out of the codes above, which each had two meanings (issue 14):
  session_closed,              // the session was closed (session::close or its destruction); was connection_closed
  closed_locally,              // this side closed the connection (connection::close); was connection_closed
  empty_connection,            // a default-constructed connection handle: it refers to no connection
  payload_too_large,           // a datagram longer than connection::max_payload(); was message_too_large
  crypto_init_failed,          // libsodium failed to initialise; was rejected
  handshake_failed,            // the peer's handshake gave no usable key; was authentication_failed
  // streams (punch/stream.hpp)
  streams_unavailable,         // punch was built without usrsctp (PUNCH_STREAMS)
  stream_closed,               // write after this side's close() of the stream
  empty_stream,                // a default-constructed stream handle: it refers to no stream
  too_many_streams,            // all of this side's stream ids are in use
  stream_failed,               // SCTP ended the association (the peer aborted it, or it could not start)
  wrong_stream_mode,           // a byte operation on a message stream, or a message operation on a byte stream
  stream_message_too_large,    // a message longer than stream_options::max_message_size
  message_buffer_too_small,    // the next message is longer than the receive buffer (it stays queued)
  bad_stream_options,          // stream_options that contradict each other (see punch/stream_options.hpp)
  // path policy (session_options::path_policy)
  no_direct_path,              // no direct pair answered, and path_mode::direct_only forbids the relay
  no_relayed_path,             // no relayed pair answered (none configured, or it failed), and path_mode::relay_only forbids direct ones

  // brokers sharing a registry (punch/cluster.hpp)
  cluster_unavailable = 300,   // the cluster's shared store (Redis) cannot be reached
  cluster_overloaded,          // too many cluster operations in flight: refused at once

  // PCP codec (RFC 6887, punch/wire/pcp.hpp)
  pcp_unsupported_version = 400,  // the answer is not PCP version 2 (a NAT-PMP gateway answers 0): fall back
  pcp_bad_length,                 // shorter than 4, longer than 1100 or not a multiple of 4 bytes (§7, §8.3)
  pcp_not_a_response,             // the R bit is clear: a request, not an answer (§8.3)
  pcp_unknown_opcode,             // an opcode this codec does not decode (only ANNOUNCE and MAP)
  pcp_bad_option,                 // an option runs past the message or has the wrong length for its code
  pcp_buffer_too_small,           // the caller's buffer cannot hold the request
  pcp_bad_request,                // a request field cannot be encoded (an unknown address family)

  // TURN (RFC 8656, punch/wire/turn.hpp and session_options::turn_servers)
  turn_bad_channel_data = 500,    // ChannelData shorter than its length, or a channel outside 0x4000..0x4FFF
  turn_unreachable,               // no answer from the TURN server before the deadline
  turn_unauthorized,              // the TURN server refused our credentials (401 to an authenticated request)
  turn_refused,                   // the TURN server answered with another error code (403, 437, 486, 508, ...)
  turn_bad_response,              // a TURN answer without what it must carry (XOR-RELAYED-ADDRESS, REALM, NONCE)

  // port mapping on the gateway (session_options::port_mapping)
  no_gateway = 600,               // no default gateway to ask (none in /proc/net/route, none set)
  port_mapping_refused,           // the gateway answered every protocol it speaks with an error
  port_mapping_unanswered,        // no protocol got an answer from the gateway in time
};

PUNCH_EXPORT const boost::system::error_category& category() noexcept;

inline error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), category()};
}

}  // namespace punch

template <>
struct boost::system::is_error_code_enum<punch::errc> : std::true_type {};
