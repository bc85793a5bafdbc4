// punch's error codes: every code has its own message in the "punch" category, and the codes
// that issue 14 split out of overloaded ones stay apart from them.
#include "punch/error.hpp"

#include <boost/asio/error.hpp>
#include <boost/test/unit_test.hpp>

#include <map>
#include <string>

using punch::errc;

namespace {

// Every code, by group, as error.hpp declares them: a new code must be added here, and the
// test then checks its message.
const errc every_code[] = {
    errc::unknown_transport, errc::plugin_not_found, errc::plugin_entry_missing, errc::plugin_version_mismatch,
    errc::plugin_invalid, errc::duplicate_transport, errc::invalid_transport_option, errc::address_in_use,
    errc::address_not_available, errc::socket_closed,
    errc::truncated, errc::not_stun, errc::bad_magic_cookie, errc::bad_message_length, errc::bad_attribute_length,
    errc::bad_padding, errc::bad_fingerprint, errc::bad_attribute_value, errc::missing_attribute,
    errc::unknown_required_attribute, errc::message_too_large, errc::integrity_check_failed,
    errc::broker_unreachable, errc::peer_not_found, errc::punch_timeout, errc::connection_closed,
    errc::invalid_peer_id, errc::registry_full, errc::not_registered, errc::timeout, errc::bad_response,
    errc::rejected, errc::id_taken, errc::rate_limited, errc::authentication_failed, errc::key_mismatch,
    errc::bad_key_file, errc::session_closed, errc::closed_locally, errc::empty_connection,
    errc::payload_too_large, errc::crypto_init_failed, errc::handshake_failed,
    errc::streams_unavailable, errc::stream_closed, errc::empty_stream, errc::too_many_streams, errc::stream_failed,
    errc::wrong_stream_mode, errc::stream_message_too_large, errc::message_buffer_too_small, errc::bad_stream_options,
    errc::no_direct_path, errc::no_relayed_path,
    errc::cluster_unavailable, errc::cluster_overloaded,
    errc::pcp_unsupported_version, errc::pcp_bad_length, errc::pcp_not_a_response, errc::pcp_unknown_opcode,
    errc::pcp_bad_option, errc::pcp_buffer_too_small, errc::pcp_bad_request,
    errc::turn_bad_channel_data, errc::turn_unreachable, errc::turn_unauthorized, errc::turn_refused,
    errc::turn_bad_response,
    errc::no_gateway, errc::port_mapping_refused, errc::port_mapping_unanswered,
};

}  // namespace

BOOST_AUTO_TEST_SUITE(error_codes)

BOOST_AUTO_TEST_CASE(every_code_has_its_own_message_in_the_punch_category) {
  std::map<std::string, int> seen;
  for (errc e : every_code) {
    const auto ec = make_error_code(e);
    BOOST_TEST(ec.category().name() == std::string("punch"));
    BOOST_TEST(ec.failed());
    const std::string m = ec.message();
    BOOST_TEST(m.find("unknown punch error") == std::string::npos, "errc " << static_cast<int>(e) << " has no message");
    const auto [it, fresh] = seen.emplace(m, static_cast<int>(e));
    BOOST_TEST(fresh, "errc " << static_cast<int>(e) << " and " << it->second << " share the message \"" << m << "\"");
  }
  // The list covers each group's range: one past its last value is no code.
  for (int past : {static_cast<int>(errc::socket_closed) + 1, static_cast<int>(errc::integrity_check_failed) + 1,
                   static_cast<int>(errc::no_relayed_path) + 1, static_cast<int>(errc::pcp_bad_request) + 1,
                   static_cast<int>(errc::turn_bad_response) + 1,
                   static_cast<int>(errc::port_mapping_unanswered) + 1})
    BOOST_TEST(punch::category().message(past).find("unknown punch error") != std::string::npos, past);
}

BOOST_AUTO_TEST_CASE(codes_split_out_of_overloaded_ones_are_distinct_from_them) {
  // Each pair once shared one code; a caller must be able to tell them apart.
  const std::pair<errc, errc> splits[] = {
      {errc::connection_closed, errc::session_closed},  {errc::connection_closed, errc::closed_locally},
      {errc::connection_closed, errc::empty_connection}, {errc::message_too_large, errc::payload_too_large},
      {errc::rejected, errc::crypto_init_failed},        {errc::authentication_failed, errc::handshake_failed},
  };
  for (const auto& [before, after] : splits) {
    BOOST_TEST(make_error_code(before) != make_error_code(after));
    BOOST_TEST(make_error_code(before).message() != make_error_code(after).message());
  }
  // A peer's normal close at receive is asio's end of data, not one of ours.
  BOOST_TEST(make_error_code(errc::connection_closed) != boost::system::error_code(boost::asio::error::eof));
}

BOOST_AUTO_TEST_SUITE_END()
