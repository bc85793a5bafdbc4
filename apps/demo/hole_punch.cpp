// Hole punching by hand. Each wait races the socket against a timer with ||, the way asio's
// cpp20 examples do timeouts.
#include "hole_punch.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <charconv>

namespace punch_demo {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using namespace std::chrono_literals;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// "198.51.100.1:5000" → endpoint; nullopt for anything else.
std::optional<punch::endpoint> parse_endpoint(std::string_view s) {
  const auto colon = s.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  punch::error_code ec;
  const auto address = asio::ip::make_address(std::string(s.substr(0, colon)), ec);
  std::uint16_t port = 0;
  const auto digits = s.substr(colon + 1);
  auto [ptr, err] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec || err != std::errc{} || ptr != digits.data() + digits.size()) return std::nullopt;
  return punch::endpoint(address, port);
}

}  // namespace

asio::awaitable<void> reflect(punch::datagram_socket& socket) {
  std::array<char, 1500> buffer{};
  punch::endpoint from;
  for (;;) {
    auto [ec, n] = co_await socket.async_receive_from(asio::buffer(buffer), from, use_tuple);
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) throw punch::system_error(ec, "broker receive");
    const std::string reply = text(from);
    co_await socket.async_send_to(asio::buffer(reply), from, asio::use_awaitable);
  }
}

asio::awaitable<std::optional<punch::endpoint>> discover(peer& p, punch::endpoint broker,
                                                         const narrator& say) {
  std::array<char, 1500> buffer{};
  punch::endpoint from;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    const std::string ask = "who am i";
    co_await p.socket.async_send_to(asio::buffer(ask), broker, asio::use_awaitable);
    asio::steady_timer patience(co_await asio::this_coro::executor, 1s);
    auto got = co_await (p.socket.async_receive_from(asio::buffer(buffer), from, use_tuple) ||
                         patience.async_wait(use_tuple));
    if (got.index() == 1) {
      say.say(p.name + ": no answer from the broker (attempt " + std::to_string(attempt) + ")");
      continue;
    }
    auto [ec, n] = std::get<0>(got);
    if (ec) throw punch::system_error(ec, p.name + " receive");
    if (from != broker) continue;
    if (auto reflexive = parse_endpoint({buffer.data(), n})) {
      say.say(p.name + ": the broker sees me as " + text(*reflexive));
      co_return reflexive;
    }
  }
  co_return std::nullopt;
}

asio::awaitable<punch_outcome> punch(peer& p, punch::endpoint target, punch::endpoint broker,
                                     int rounds,
                                     std::chrono::milliseconds round_length,
                                     const narrator& say) {
  punch_outcome outcome;
  std::array<char, 1500> buffer{};
  punch::endpoint from;
  for (int round = 1; round <= rounds; ++round) {
    const std::string hello = p.name + " round " + std::to_string(round);
    say.say(p.name + ": sending \"" + hello + "\" to " + text(target));
    co_await p.socket.async_send_to(asio::buffer(hello), target, asio::use_awaitable);
    asio::steady_timer round_end(co_await asio::this_coro::executor, round_length);
    for (;;) {
      // A timer that lost a race is cancelled, not reset: waiting again keeps its deadline.
      auto got = co_await (p.socket.async_receive_from(asio::buffer(buffer), from, use_tuple) ||
                           round_end.async_wait(use_tuple));
      if (got.index() == 1) break;
      auto [ec, n] = std::get<0>(got);
      if (ec) throw punch::system_error(ec, p.name + " receive");
      if (from == broker) continue;
      say.say(p.name + ": heard \"" + std::string(buffer.data(), n) + "\" from " + text(from));
      if (outcome.first_heard == 0) outcome.first_heard = round;
      if (from != target) {
        say.say(p.name + ": answering " + text(from) + " from now on (peer-reflexive)");
        target = from;
      }
    }
  }
  co_return outcome;
}

}  // namespace punch_demo
