// The demo's story with the real framework: a punch::broker, and alice's and bob's
// punch::sessions register, connect/accept, exchange messages both ways and close.
#include "demo.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <exception>
#include <string>
#include <string_view>

namespace punch_demo {
namespace {

namespace asio = boost::asio;
namespace sim = punch::sim;
using namespace asio::experimental::awaitable_operators;
using namespace std::chrono_literals;

struct message {
  bool from_alice;
  std::string_view text;
};
constexpr std::array<message, 4> script{{
    {true, "hello bob, it's alice"},
    {false, "hi alice!"},
    {true, "then I'll close now"},
    {false, "bye"},
}};
// A message is sent again when it has not arrived after this many one-way path latencies.
constexpr int resend_after = 3;
// Enough that --loss 0.3 on every link (about one datagram in four gets through) rarely
// loses a message for good.
constexpr int attempts = 10;

// "alice (symmetric) and bob (none)"
std::string the_pair(const options& o) {
  return "alice (" + o.nat_alice.name + ") and bob (" + o.nat_bob.name + ")";
}

// "; the NATs dropped 12 inbound datagrams, the links lost 3", or nothing.
std::string drops(const narrator& say) {
  std::string out;
  if (say.filtered() != 0)
    out += "; the NATs dropped " + std::to_string(say.filtered()) + " inbound datagrams";
  if (say.lost() != 0)
    out += (out.empty() ? "; " : ", ") + std::string("the links lost ") +
           std::to_string(say.lost()) + " datagrams";
  return out;
}

std::string ms(std::chrono::nanoseconds d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

// Receives one datagram into `buf`; the error instead of an exception, so that `||` with a
// timer ends as soon as either finishes (|| waits for a success otherwise).
asio::awaitable<punch::error_code> receive_into(punch::connection c, std::string& buf) {
  std::array<char, punch::connection::max_payload()> data;
  auto [ec, n] = co_await c.receive(asio::buffer(data), asio::as_tuple(asio::use_awaitable));
  if (!ec) buf.assign(data.data(), n);
  co_return ec;
}

// Sends `text` from `from` until `to` receives it (links may lose it); false if it never did.
asio::awaitable<bool> pass(punch::connection from, punch::connection to, std::string_view text,
                           std::chrono::milliseconds wait, narrator& say) {
  const std::string sender = to.peer(), receiver = from.peer();
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    co_await from.send(asio::buffer(text.data(), text.size()));
    asio::steady_timer timer{co_await asio::this_coro::executor, wait};
    std::string got;
    auto first = co_await (receive_into(to, got) || timer.async_wait(asio::use_awaitable));
    if (first.index() == 0 && !std::get<0>(first) && got == text) {
      say.say(sender + " -> " + receiver + ": \"" + got + "\"");
      co_return true;
    }
    say.say(sender + " -> " + receiver + ": nothing arrived within " + ms(wait) +
            (attempt < attempts ? ", sending again" : ", giving up"));
  }
  co_return false;
}

// Why a pair failed, in one line, when the NAT types or the links explain it.
std::string hint(const options& o, punch::error_code ec) {
  if (ec == punch::errc::punch_timeout) {
    for (const nat_choice* nat : {&o.nat_alice, &o.nat_bob}) {
      const auto& b = nat->behaviour;
      if (b && b->mapping != sim::mapping_behaviour::endpoint_independent) {
        return "hint: a " + nat->name + " NAT gives each destination its own external port "
               "(RFC 4787 §4.1): when both sides do, neither can guess where to aim, so "
               "this pair needs a relay (run without --no-relay)";
      }
    }
  }
  if (o.loss > 0) return "hint: the links lose datagrams (--loss); another seed may get through";
  return "hint: see the dropped packets above";
}

// awaitable_operators' && throws multiple_exceptions when both sides fail; the first explains.
punch::system_error first_system_error(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const asio::multiple_exceptions& m) {
    return first_system_error(m.first_exception());
  } catch (const punch::system_error& s) {
    return s;
  }
}

asio::awaitable<int> story(world& w, narrator& say, const options& o) {
  say.start();
  say.section("1. alice and bob register at the broker");
  co_await (w.alice.register_self() && w.bob.register_self());

  say.section("2. alice connects to bob: the broker introduces them, both punch");
  say.say("alice asks the broker to connect it to bob");
  const auto started = w.net.elapsed();
  auto [alice, bob] = co_await (w.alice.connect("bob") && w.bob.accept());
  const auto took = w.net.elapsed() - started;

  say.section(alice.path() == punch::path_kind::relay
                  ? "3. messages through the relay (it forwards sealed frames it cannot read)"
                  : "3. messages over the punched path, no broker involved");
  const auto wait = std::max<std::chrono::milliseconds>(100ms, resend_after * 4 * o.latency);
  for (const message& m : script) {
    // Not `co_await (c ? a : b)`: GCC 12 mishandles the conditional's awaitable temporary.
    auto step = m.from_alice ? pass(alice, bob, m.text, wait, say)
                             : pass(bob, alice, m.text, wait, say);
    if (!co_await std::move(step)) {
      say.result("result: " + the_pair(o) + " connected, but a message never got through" +
                 drops(say));
      co_return exit_no_connection;
    }
  }

  say.section("4. alice closes the connection");
  std::string ignored;
  // close() gives up waiting for the acknowledgement after 1 s; bob hears it after one path.
  asio::steady_timer timer{co_await asio::this_coro::executor,
                           std::max<std::chrono::milliseconds>(2s, 2 * wait)};
  auto heard = co_await ((alice.close() && receive_into(bob, ignored)) ||
                         timer.async_wait(asio::use_awaitable));
  const bool clean = heard.index() == 0 && std::get<0>(heard) == asio::error::eof;

  say.result("result: " + the_pair(o) + " connected over the " + punch::to_string(alice.path()) +
             " path");
  say.result("        in " + ms(took) + " of network time, exchanged " +
             std::to_string(script.size()) + " messages and " +
             (clean ? "closed cleanly" : "closed, but bob never heard it"));
  co_return exit_ok;
}

}  // namespace

void narrate(world& w, narrator& say) {
  say.set_clock(w.net);
  say.broker(w.broker_socket.local_endpoint());
  say.broker(w.other_socket.local_endpoint());
  say.label(w.alice.local_endpoint(), "alice's host address");
  say.label(w.bob.local_endpoint(), "bob's host address");
  say.label(w.relay_socket.local_endpoint(), "the relay");
  if (auto* nat = w.net.find_nat("nat-a")) say.owner(*nat, "alice");
  if (auto* nat = w.net.find_nat("nat-b")) say.owner(*nat, "bob");
  w.net.on_event([&say](const sim::event& e) { say.network_event(e); });
  w.alice.on_event([&say](const punch::session_event& e) { say.session_event("alice", e); });
  w.bob.on_event([&say](const punch::session_event& e) { say.session_event("bob", e); });
}

asio::awaitable<int> run(world& w, narrator& say, const options& o) {
  std::exception_ptr failure;
  try {
    co_return co_await story(w, say, o);
  } catch (...) {
    failure = std::current_exception();
  }
  // Only the framework's own errors (punch_timeout, broker_unreachable, ...) are a result;
  // anything else is rethrown from first_system_error.
  const punch::system_error e = first_system_error(failure);
  say.result("result: " + the_pair(o) + " could not connect: " + e.code().message() + drops(say));
  say.result(hint(o, e.code()));
  co_return exit_no_connection;
}

}  // namespace punch_demo
