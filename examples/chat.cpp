// chat: the smallest useful peer app, the one docs/writing-a-peer-app.md builds step by step.
//
//   punch-broker --listen 0.0.0.0:3478            # on a host both peers can reach
//   chat 203.0.113.10:3478 bob                    # waits for a peer
//   chat 203.0.113.10:3478 alice bob              # connects to bob
//
// Each line typed is one message; end of input (Ctrl-D) ends the chat on both sides.
// The tutorial quotes the code between the `// [name]` markers verbatim (a test checks it):
// change the tutorial and this file together.
#include "chat_peer.hpp"

#include "punch/plugins/builtin.hpp"
#include "punch/session.hpp"
#include "punch/transport_registry.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

// Sends each line of stdin (a terminal or a pipe) until end of input.
asio::awaitable<void> send_lines(punch::connection c) {
  asio::posix::stream_descriptor input{co_await asio::this_coro::executor, ::dup(STDIN_FILENO)};
  std::string buffer;
  for (;;) {
    auto [ec, n] = co_await asio::async_read_until(input, asio::dynamic_buffer(buffer), '\n',
                                                   asio::as_tuple(asio::use_awaitable));
    if (ec) break;  // end of input (or a read error): either way, we are done talking
    co_await chat::say(c, std::string_view{buffer}.substr(0, n - 1));
    buffer.erase(0, n);
  }
}

// [chat_with]
asio::awaitable<void> chat_with(punch::session& s, std::optional<std::string> other) {
  punch::connection c = co_await chat::meet(s, other, std::cout);
  // Whichever ends first (the other side closes, or our input ends) ends the chat; `||`
  // cancels the other one.
  co_await (chat::print_messages(c, std::cout) || send_lines(c));
  // Tells the other side, whose receive() ends with asio::error::eof. Does nothing if the
  // other side closed first.
  co_await c.close();
}
// [chat_with]

// "203.0.113.10:3478" → an endpoint; the real punch-peer also resolves host names.
punch::endpoint parse_endpoint(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument{"expected ADDRESS:PORT"};
  return {asio::ip::make_address(text.substr(0, colon)),
          static_cast<unsigned short>(std::stoi(text.substr(colon + 1)))};
}

}  // namespace

int main(int argc, char* argv[]) {
  if (argc < 3 || argc > 4) {
    std::cerr << "usage: chat BROKER_ADDRESS:PORT ID [OTHER_ID]\n";
    return 2;
  }
  // Every line shows at once, also when stdout is a pipe.
  std::cout << std::unitbuf;
  try {
    asio::io_context ctx;

    // [transport]
    punch::transport_registry registry;
    punch::plugins::register_builtins(registry);  // adds "udp" and "sim"
    std::unique_ptr<punch::transport> transport = registry.make("udp", ctx.get_executor());
    // [transport]

    // [session]
    punch::session_options options;
    options.broker = parse_endpoint(argv[1]);
    options.id = argv[2];
    // Slow NATs get 15 s of hole punching; meet() still bounds connect() by 20 s in all.
    options.punch_timeout = std::chrono::seconds{15};
    punch::session s{*transport, options};
    // [session]

    // [events]
    s.on_event([](const punch::session_event& e) {
      if (e.what == punch::session_event::kind::introduced)
        std::cout << "-- " << e.peer << " is connecting to us\n";
    });
    // [events]

    std::optional<std::string> other;
    if (argc == 4) other = argv[3];

    // [errors]
    int exit_code = 0;
    asio::co_spawn(ctx, chat_with(s, other), [&](std::exception_ptr error) {
      // Success or not: the session's receive loop and keepalive would keep run() going.
      s.close();
      if (!error) return;
      exit_code = 1;
      try {
        std::rethrow_exception(error);
      } catch (const punch::system_error& e) {
        // what() names the peer and the broker; code() is a punch::errc to decide on.
        std::cerr << "chat: " << e.what() << "\n";
        if (e.code() == punch::errc::peer_not_found)
          std::cerr << "chat: start the other peer first, then try again\n";
      }
    });
    ctx.run();
    return exit_code;
    // [errors]
  } catch (const std::exception& e) {
    std::cerr << "chat: " << e.what() << "\n";
    return 1;
  }
}
