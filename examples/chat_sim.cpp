// chat_sim: the chat example's code without a network: a broker on the simulated internet
// and two peers behind different NATs, all in one process and on one io_context. A CTest
// test (label sim) runs it: it exits 0 only if each side printed the other's message and the
// chat closed cleanly, which proves the tutorial's code works.
//
// docs/writing-a-peer-app.md quotes the code between the `// [name]` markers verbatim (a
// test checks it): change the tutorial and this file together.
#include "chat_peer.hpp"

#include "punch/broker.hpp"
#include "punch/plugins/sim.hpp"
#include "punch/registry.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <iostream>
#include <sstream>
#include <string>

namespace asio = boost::asio;
namespace sim = punch::sim;
using asio::ip::make_address;
using namespace asio::experimental::awaitable_operators;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

int main() {
  asio::io_context ctx;
  // [network]
  // A fixed seed: the same run every time. Real time (the steady clock), so that a person
  // watches the chat happen; tests give no clock and run on the network's virtual one.
  sim::network net{ctx.get_executor(), 7, punch::steady_clock()};
  const sim::link wan{std::chrono::milliseconds{20}, std::chrono::milliseconds{0}, 0.0};
  auto& home_a = net.add_nat("home-a", net.internet(), make_address("198.51.100.1"),
                             sim::nat_behaviour::port_restricted_cone(), wan);
  auto& home_b = net.add_nat("home-b", net.internet(), make_address("198.51.100.2"),
                             sim::nat_behaviour::restricted_cone(), wan);
  auto& alice_host = net.add_host("alice", home_a.inside(), make_address("192.168.1.10"));
  auto& bob_host = net.add_host("bob", home_b.inside(), make_address("192.168.1.20"));
  auto& broker_host = net.add_host("broker", net.internet(), make_address("203.0.113.10"), wan);
  // [network]

  // [broker]
  punch::datagram_socket broker_socket = broker_host.transport().open({{}, 3478});
  std::unique_ptr<punch::registry> registrations = punch::make_memory_registry(1000);
  punch::broker broker{broker_socket, *registrations};
  asio::co_spawn(ctx, broker.run(), asio::detached);
  // [broker]

  // [sim_sessions]
  punch::session_options options;
  options.broker = {make_address("203.0.113.10"), 3478};
  options.id = "alice";
  punch::session alice{alice_host.transport(), options};
  options.id = "bob";
  punch::session bob{bob_host.transport(), options};
  // [sim_sessions]

  // Alice connects once bob is registered; the event says when.
  asio::steady_timer bob_registered{ctx, asio::steady_timer::time_point::max()};
  bob.on_event([&](const punch::session_event& e) {
    if (e.what == punch::session_event::kind::registered) bob_registered.cancel();
  });

  std::ostringstream alice_out, bob_out;
  // [bob_side]
  auto bob_side = [&]() -> asio::awaitable<void> {
    punch::connection c = co_await chat::meet(bob, std::nullopt, bob_out);
    co_await chat::say(c, "hello alice");
    co_await chat::print_messages(c, bob_out);  // until alice closes
  };
  // [bob_side]
  auto alice_side = [&]() -> asio::awaitable<void> {
    co_await bob_registered.async_wait(asio::as_tuple(asio::use_awaitable));
    punch::connection c = co_await chat::meet(alice, "bob", alice_out);
    co_await chat::say(c, "hello bob");
    // [receive_one]
    std::array<char, punch::connection::max_payload()> buffer;
    std::size_t n = co_await c.receive(asio::buffer(buffer));
    alice_out << c.peer() << ": " << std::string_view{buffer.data(), n} << "\n";
    // [receive_one]
    co_await c.close();
  };

  bool finished = false;
  asio::co_spawn(ctx, bob_side() && alice_side(), [&](std::exception_ptr error) {
    finished = true;
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        std::cerr << "chat_sim: " << e.what() << "\n";
      }
    }
    // Closing everything lets run() return: no coroutine outlives the network.
    alice.close();
    bob.close();
    broker_socket.close();
  });
  ctx.run_for(std::chrono::seconds{60});

  std::cout << "--- alice\n" << alice_out.str() << "--- bob\n" << bob_out.str();
  const std::string closed = boost::asio::error::make_error_code(boost::asio::error::eof).message();
  const bool ok = finished && contains(alice_out.str(), "connected to bob at 198.51.100.2:") &&
                  contains(alice_out.str(), "bob: hello alice\n") &&
                  contains(bob_out.str(), "connected to alice at 198.51.100.1:") &&
                  contains(bob_out.str(), "alice: hello bob\n") &&
                  contains(bob_out.str(), "-- alice: " + closed + "\n");
  if (!ok) std::cerr << "chat_sim: the chat did not go as expected (see above)\n";
  return ok ? 0 : 1;
}
