// Test support for the broker's request → answer tests (ring: unit): a broker fed datagram by
// datagram through broker::handle(), without a socket, on a clock the test moves; and clients
// at made-up addresses whose answers come back at once. The API is the real-UDP fixture's
// (broker_test_support.hpp) without the waiting, so a test reads the same on either.
#pragma once

#include "broker_requests.hpp"

#include "punch/broker.hpp"
#include "punch/registry.hpp"
#include "function_clock.hpp"

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace broker_test {

using namespace std::chrono_literals;
namespace asio = boost::asio;

// A broker without a socket, its clock at `now() = start + skew`, and the events it emitted.
struct handle_fixture {
  explicit handle_fixture(punch::broker_options options = {}, std::size_t capacity = 100)
      : registry(punch::make_memory_registry(capacity)), broker(socket, *registry, with_clock(std::move(options))) {
    broker.on_event([this](const punch::broker_event& e) { events.push_back(e); });
  }

  punch::broker_options with_clock(punch::broker_options o) {
    if (!o.clock) o.clock = &clock;
    return o;
  }
  // The broker's time: only `skew` moves it.
  std::chrono::steady_clock::time_point now() const { return start + skew; }
  // The real-UDP fixture's freeze(): this clock never moves by itself.
  void freeze() {}

  std::size_t count(punch::broker_event::kind k) const {
    return static_cast<std::size_t>(
        std::count_if(events.begin(), events.end(), [k](const auto& e) { return e.what == k; }));
  }
  // Events are emitted while a datagram is handled: there is nothing to wait for.
  bool wait_for(punch::broker_event::kind k, std::chrono::milliseconds) const { return count(k) > 0; }

  // Runs the test's steps (the real-UDP fixture serves while they run).
  void run(const std::function<void()>& test) { test(); }

  // The broker's answer to `datagram` from `from`, if any.
  std::optional<bytes> send(const bytes& datagram, const endpoint& from) {
    auto a = broker.handle(datagram, from, out);
    if (a.empty()) return std::nullopt;
    return bytes(a.begin(), a.end());
  }

  // Where clients "send" to: the answers do not depend on it.
  endpoint address{asio::ip::make_address("192.0.2.1"), 3478};
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::time_point{} + 1000h;
  std::chrono::nanoseconds skew{0};
  test::function_clock clock{[this] { return now(); }};
  punch::datagram_socket socket;  // never opened: handle() needs none
  std::unique_ptr<punch::registry> registry;
  punch::broker broker;
  std::vector<punch::broker_event> events;
  std::array<std::byte, punch::stun::max_message_size> out{};
};

// A client at `address` and a port of its own; the broker's answers to it queue up.
class handle_client {
public:
  explicit handle_client(handle_fixture& f, const char* address = "127.0.0.1")
      : f_(f), local_(asio::ip::make_address(address), next_port()) {}

  endpoint local() const { return local_; }

  void send(const bytes& data, const endpoint& /*to*/) {
    if (auto a = f_.send(data, local_)) answers_.push_back(std::move(*a));
  }
  // The oldest answer not yet received; none if the broker did not answer.
  std::optional<bytes> receive(std::chrono::milliseconds = 0ms, endpoint* from = nullptr) {
    if (answers_.empty()) return std::nullopt;
    if (from) *from = f_.address;
    bytes a = std::move(answers_.front());
    answers_.pop_front();
    return a;
  }

  // Sends `request` and returns the parsed answer (the test fails if there is none).
  std::optional<answer> exchange(const bytes& request, const endpoint& to) {
    send(request, to);
    auto data = receive();
    BOOST_TEST_REQUIRE(data.has_value(), "no answer from the broker");
    BOOST_TEST(data->size() <= std::max(request.size(), response_floor),
               "answer of " << data->size() << " bytes to a request of " << request.size());
    return parse(*data);
  }

  // Registers as a peer does (the real-UDP client's register_as, keep_and_retry).
  std::optional<answer> register_as(const punch::identity& who, const register_fields& f, const endpoint& to) {
    std::optional<answer> a;
    for (int attempt = 0; attempt < 3; ++attempt) {
      a = exchange(register_request(who, f, nonce, random_id()), to);
      if (!a || !keep_and_retry(*a, nonce, credential)) break;
    }
    return a;
  }

  bytes nonce;
  bytes credential;

private:
  static std::uint16_t next_port() {
    static std::uint16_t port = 40000;
    return port++;
  }

  handle_fixture& f_;
  endpoint local_;
  std::deque<bytes> answers_;
};

}  // namespace broker_test
