// http_udp: the HTTP example's scenario (http_scenario.hpp) over real UDP on loopback: a
// broker and two peers in one process, on one io_context, in real time. A CTest test (label
// real) runs it; it exits 0 only if every answer is what was asked for, as http_sim's.
#include "http_scenario.hpp"

#include "punch/broker.hpp"
#include "punch/plugins/udp.hpp"
#include "punch/registry.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>

namespace asio = boost::asio;

int main() {
  asio::io_context ctx;
  punch::error_code ec;
  auto udp = punch::udp::make_transport(ctx.get_executor(), {}, ec);
  if (ec) {
    std::cerr << "http_udp: the udp transport: " << ec.message() << "\n";
    return 1;
  }
  const punch::endpoint loopback{asio::ip::make_address("127.0.0.1"), 0};
  punch::datagram_socket broker_socket = udp->open(loopback);
  std::unique_ptr<punch::registry> registrations = punch::make_memory_registry(16);
  punch::broker broker{broker_socket, *registrations};
  asio::co_spawn(ctx, broker.run(), asio::detached);

  http_example::outcome out;  // before the sessions, which outlive no handler writing to it
  punch::session_options options;
  options.broker = broker.local_endpoint();
  options.local = loopback;
  options.port_mapping.enabled = false;  // nothing to map on loopback
  options.id = "alice";
  punch::session alice{*udp, options};
  options.id = "bob";
  punch::session bob{*udp, options};

  asio::co_spawn(ctx, http_example::run(alice, bob, out), [&](std::exception_ptr error) {
    out.finished = true;
    out.failure = error;
    alice.close();
    bob.close();
    broker_socket.close();
  });
  ctx.run_for(std::chrono::seconds{60});
  return http_example::check(out, "http_udp");
}
