// What the TURN tests share: a broker on loopback UDP, and one session ("alice") that registers
// with the given TURN servers, reporting whether registration went on, how long it took, what
// the TURN events said (turn_allocated, turn_failed with its error) and what a lookup then saw.
#pragma once

#include "punch/broker.hpp"
#include "punch/plugins/udp.hpp"
#include "punch/registry.hpp"
#include "punch/session.hpp"
#include "punch/turn.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <vector>

namespace punch::test {

inline const auto loopback = boost::asio::ip::make_address("127.0.0.1");

struct loopback_broker {
  loopback_broker() {
    error_code ec;
    udp = punch::udp::make_transport(ctx.get_executor(), {}, ec);
    BOOST_TEST_REQUIRE(!ec);
    socket = udp->open(endpoint{loopback, 0});
    the_broker = std::make_unique<broker>(socket, *reg);
    boost::asio::co_spawn(ctx, the_broker->run(), boost::asio::detached);
  }
  // A session's options: this broker, loopback, `id`.
  session_options options(std::string id) const {
    session_options o;
    o.broker = the_broker->local_endpoint();
    o.local = endpoint{loopback, 0};
    o.id = std::move(id);
    return o;
  }

  boost::asio::io_context ctx;
  std::unique_ptr<transport> udp;
  datagram_socket socket;
  std::unique_ptr<registry> reg = make_memory_registry(16);
  std::unique_ptr<broker> the_broker;
};

struct registration_outcome {
  bool registered = false;
  bool allocated = false;
  error_code failed;           // the last turn_failed event's error
  std::uint64_t ignored = 0;   // session_stats::turn_answers_ignored
  std::chrono::milliseconds took{};  // what register_self took
  std::vector<endpoint> looked_up;   // alice's host candidates, looked up once TURN's outcome was known
};

// Registers "alice" with `servers` (each request given `request_timeout`), waits for the TURN
// outcome (turn_allocated or turn_failed: register_self does not), looks alice up, then closes
// the session and the broker's socket; `on_done` closes what else the test runs.
inline registration_outcome register_alice(loopback_broker& w, std::vector<turn_server> servers,
                                           std::chrono::milliseconds request_timeout,
                                           std::function<void()> on_done = {}) {
  auto o = w.options("alice");
  o.request_timeout = request_timeout;
  o.request_rto = std::chrono::milliseconds(50);
  o.turn_servers = std::move(servers);
  registration_outcome r;
  punch::timer outcome_known(w.ctx.get_executor());
  session alice(*w.udp, o);
  alice.on_event([&](const session_event& e) {
    if (e.what == session_event::kind::turn_allocated) r.allocated = true;
    if (e.what == session_event::kind::turn_failed) r.failed = e.error;
    if (r.allocated || r.failed) outcome_known.cancel();
  });
  boost::asio::co_spawn(
      w.ctx,
      [&]() -> boost::asio::awaitable<void> {
        const auto started = std::chrono::steady_clock::now();
        co_await alice.register_self();
        r.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        r.registered = true;
        if (!r.allocated && !r.failed) {
          outcome_known.expires_after(request_timeout * 2);
          co_await outcome_known.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        }
        try {
          r.looked_up = (co_await alice.lookup("alice")).host;
        } catch (const std::exception& e) {
          BOOST_TEST_MESSAGE("looking alice up: " << e.what());
        }
        r.ignored = alice.stats().turn_answers_ignored;
        alice.close();
        w.socket.close();
        if (on_done) on_done();
      },
      [&](std::exception_ptr) { w.ctx.stop(); });
  w.ctx.run_for(request_timeout * 4);
  return r;
}

}  // namespace punch::test
