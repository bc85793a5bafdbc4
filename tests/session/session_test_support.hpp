// Helpers the session-level tests share: the five NAT presets, which pairs can punch, quick
// session options, and one text datagram sent or received over a connection.
#pragma once

#include "punch/connection.hpp"
#include "punch/session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/buffer.hpp>

#include <array>
#include <string>
#include <string_view>

namespace punch::test {

inline const char* const nat_types[] = {"none", "full-cone", "restricted-cone", "port-restricted-cone", "symmetric"};

// Direct punching cannot work when one side needs a new port per destination and the other
// filters by port (RFC 4787 §4.1/§5): port-restricted↔symmetric and symmetric↔symmetric.
inline bool punchable(std::string_view a, std::string_view b) {
  const bool a_sym = a == "symmetric", b_sym = b == "symmetric";
  const bool a_pr = a == "port-restricted-cone", b_pr = b == "port-restricted-cone";
  return !((a_sym && (b_sym || b_pr)) || (b_sym && a_pr));
}

// Port prediction (session_options::prediction) connects the two where exactly one side is
// hard: symmetric↔port-restricted, either way round. Two symmetric NATs need the relay.
inline bool predictable(std::string_view a, std::string_view b) {
  return (a == "symmetric" && b == "port-restricted-cone") || (a == "port-restricted-cone" && b == "symmetric");
}

// A direct path opens, by plain punching or by port prediction.
inline bool connects_directly(std::string_view a, std::string_view b) { return punchable(a, b) || predictable(a, b); }

// Short deadlines for tests where the network answers quickly or not at all.
inline session_options quick() {
  session_options o;
  o.punch_timeout = std::chrono::milliseconds(1500);
  o.request_timeout = std::chrono::seconds(2);
  return o;
}

inline boost::asio::awaitable<void> send_text(connection& c, std::string_view s) {
  co_await c.send(boost::asio::buffer(s.data(), s.size()));
}

// How the next receive on `c` ends: an error code, or none when a datagram came.
inline boost::asio::awaitable<error_code> receive_ends_with(connection& c) {
  std::array<char, 1500> buf;
  auto [ec, n] = co_await c.receive(boost::asio::buffer(buf), boost::asio::as_tuple(boost::asio::use_awaitable));
  co_return ec;
}

inline boost::asio::awaitable<std::string> receive_text(connection& c) {
  std::array<char, 1500> buf;
  const std::size_t n = co_await c.receive(boost::asio::buffer(buf));
  co_return std::string(buf.data(), n);
}

}  // namespace punch::test
