// The "punch" error category: the message for each punch::errc.
#include "punch/error.hpp"

namespace punch {
namespace {

class punch_category final : public boost::system::error_category {
public:
  const char* name() const noexcept override { return "punch"; }

  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::unknown_transport: return "unknown transport";
      case errc::plugin_not_found: return "transport plugin file not found or not loadable";
      case errc::plugin_entry_missing: return "shared object has no punch transport plugin entry point";
      case errc::plugin_version_mismatch: return "transport plugin was built for another plugin ABI version";
      case errc::plugin_invalid: return "transport plugin descriptor is invalid";
      case errc::duplicate_transport: return "a transport with this name is already registered";
      case errc::invalid_transport_option: return "invalid transport option";
      case errc::address_in_use: return "local address already in use";
      case errc::address_not_available: return "local address is not available on this host";
      case errc::socket_closed: return "socket is closed";
      case errc::truncated: return "message truncated";
      case errc::not_stun: return "not a STUN message (first two bits are not zero)";
      case errc::bad_magic_cookie: return "bad STUN magic cookie";
      case errc::bad_message_length: return "bad STUN message length";
      case errc::bad_attribute_length: return "STUN attribute runs past the end of the message";
      case errc::bad_padding: return "non-zero STUN attribute padding";
      case errc::bad_fingerprint: return "STUN FINGERPRINT mismatch or misplaced";
      case errc::bad_attribute_value: return "malformed STUN attribute value";
      case errc::missing_attribute: return "required STUN attribute missing";
      case errc::unknown_required_attribute: return "unknown comprehension-required STUN attribute";
      case errc::message_too_large: return "STUN message does not fit the buffer";
      case errc::integrity_check_failed: return "message integrity check failed";
      case errc::broker_unreachable: return "broker unreachable";
      case errc::peer_not_found: return "peer not found";
      case errc::punch_timeout: return "hole punching timed out";
      case errc::connection_closed: return "connection closed by the peer";
      case errc::invalid_peer_id: return "invalid peer id";
      case errc::registry_full: return "broker registry is full";
      case errc::not_registered: return "session is not registered";
      case errc::timeout: return "operation timed out";
      case errc::bad_response: return "unexpected response";
      case errc::rejected: return "request rejected by the server";
      case errc::id_taken: return "peer id is already taken";
      case errc::rate_limited: return "rate limited";
      case errc::authentication_failed: return "the server did not accept our signature";
      case errc::key_mismatch: return "the peer's key is not the expected one";
      case errc::bad_key_file: return "bad identity key file";
      case errc::session_closed: return "session closed";
      case errc::closed_locally: return "connection closed by this side";
      case errc::empty_connection: return "connection handle refers to no connection";
      case errc::payload_too_large: return "datagram exceeds the connection's maximum payload";
      case errc::crypto_init_failed: return "libsodium failed to initialise";
      case errc::handshake_failed: return "the peer's handshake gave no usable key";
      case errc::streams_unavailable: return "punch was built without streams (usrsctp, PUNCH_STREAMS)";
      case errc::stream_closed: return "the stream was closed on this side";
      case errc::empty_stream: return "operation on an empty stream handle";
      case errc::too_many_streams: return "all stream ids of this side are in use";
      case errc::stream_failed: return "the stream's SCTP association failed or was aborted";
      case errc::wrong_stream_mode: return "the operation does not fit the stream's mode (bytes or messages)";
      case errc::stream_message_too_large: return "message exceeds stream_options::max_message_size (64 KiB)";
      case errc::message_buffer_too_small: return "the next message is larger than the buffer (it stays queued)";
      case errc::bad_stream_options: return "stream options contradict each other";
      case errc::no_direct_path: return "no direct path answered and the path policy (direct only) forbids a relay";
      case errc::no_relayed_path: return "no relayed path answered and the path policy (relay only) forbids a direct one";
      case errc::cluster_unavailable: return "the brokers' shared registry (Redis) cannot be reached";
      case errc::cluster_overloaded: return "too many operations in flight to the brokers' shared registry";
      case errc::pcp_unsupported_version: return "the gateway does not speak PCP version 2 (NAT-PMP answers version 0)";
      case errc::pcp_bad_length: return "PCP message length is under 4, over 1100 or not a multiple of 4";
      case errc::pcp_not_a_response: return "PCP message is a request (R bit clear), not a response";
      case errc::pcp_unknown_opcode: return "PCP response has an opcode other than ANNOUNCE or MAP";
      case errc::pcp_bad_option: return "PCP option runs past the message or has a bad length";
      case errc::pcp_buffer_too_small: return "buffer too small for the PCP request";
      case errc::pcp_bad_request: return "PCP request field cannot be encoded";
      case errc::turn_bad_channel_data: return "TURN ChannelData is shorter than its length or has a bad channel number";
      case errc::turn_unreachable: return "the TURN server did not answer";
      case errc::turn_unauthorized: return "the TURN server refused our credentials";
      case errc::turn_refused: return "the TURN server refused the request";
      case errc::turn_bad_response: return "the TURN server's answer lacks a required attribute";
      case errc::no_gateway: return "no default gateway to ask for a port mapping";
      case errc::port_mapping_refused: return "the gateway refused a port mapping";
      case errc::port_mapping_unanswered: return "the gateway did not answer PCP, NAT-PMP or UPnP in time";
    }
    return "unknown punch error " + std::to_string(ev);
  }
};

}  // namespace

const boost::system::error_category& category() noexcept {
  static const punch_category instance;
  return instance;
}

}  // namespace punch
