// The heart of the chat example: meet another peer through the broker, then exchange
// messages. Shared by chat.cpp (real UDP, lines from stdin) and chat_sim.cpp (a broker and
// two peers behind simulated NATs in one process, run as a test).
//
// docs/writing-a-peer-app.md quotes the code between the `// [name]` markers verbatim, and
// a test (tutorial_quotes_the_examples_verbatim) checks that it still does: change the
// tutorial and this file together.
#pragma once

#include "punch/session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chat {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

// [accept_within]
// accept() waits as long as it takes; race it with a timer for a deadline. `||` cancels
// the loser, so accept() stops waiting when the timer wins.
inline asio::awaitable<punch::connection> accept_within(punch::session& s,
                                                        std::chrono::seconds limit) {
  asio::steady_timer timer{co_await asio::this_coro::executor, limit};
  auto first = co_await (s.accept() || timer.async_wait(asio::use_awaitable));
  if (first.index() == 1)
    throw punch::system_error{punch::errc::timeout, "nobody connected within the deadline"};
  co_return std::get<0>(std::move(first));
}
// [accept_within]

// [meet]
// Registers at the broker, then connects to `other` or, without one, accepts one peer.
inline asio::awaitable<punch::connection> meet(punch::session& s,
                                               std::optional<std::string> other,
                                               std::ostream& out) {
  punch::registration_info me = co_await s.register_self(5s);
  out << "registered as " << s.options().id << "; the broker sees us at " << me.reflexive
      << "\n";

  punch::connection c;
  if (other)
    c = co_await s.connect(*other, 20s);
  else
    c = co_await accept_within(s, 60s);
  out << "connected to " << c.peer() << " at " << c.remote_endpoint() << " ("
      << punch::to_string(c.path()) << " path)\n";
  co_return c;
}
// [meet]

// [send]
// One send is one datagram: at most connection::max_payload() bytes, delivered whole or
// not at all.
inline asio::awaitable<void> say(punch::connection c, std::string_view text) {
  co_await c.send(asio::buffer(text.substr(0, punch::connection::max_payload())));
}
// [send]

// [send_batch]
// Many datagrams at once: one send_batch, one system call per 64 of them over udp (sendmmsg).
// Completes with how many went out; one too long fails the batch before any is sent.
inline asio::awaitable<std::size_t> say_all(punch::connection c, const std::vector<std::string>& lines) {
  std::vector<asio::const_buffer> batch;
  for (const auto& line : lines)
    batch.push_back(asio::buffer(line.data(), std::min(line.size(), punch::connection::max_payload())));
  co_return co_await c.send_batch(batch);
}
// [send_batch]

// [receive]
// Prints every message until the conversation ends: the other side closed it
// (asio::error::eof) or fell silent for the idle timeout (errc::timeout). as_tuple hands
// receive's error_code back instead of throwing it: an ending is a result, not an exception.
inline asio::awaitable<void> print_messages(punch::connection c, std::ostream& out) {
  std::array<char, punch::connection::max_payload()> buffer;
  for (;;) {
    auto [ec, n] = co_await c.receive(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::eof || ec == punch::errc::timeout) {
      out << "-- " << c.peer() << ": " << ec.message() << "\n";
      co_return;
    }
    if (ec) throw punch::system_error{ec, "receiving from " + c.peer()};
    out << c.peer() << ": " << std::string_view{buffer.data(), n} << std::endl;
  }
}
// [receive]

}  // namespace chat
