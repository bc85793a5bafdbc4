// Test support for the broker protocol tests: a broker serving on real UDP (127.0.0.1) with a
// clock the test can move on, raw client sockets that send hand-built requests (and register
// with the NONCE exchange and a signature), and helpers to read the answers.
#pragma once

#include "signed_register.hpp"

#include "punch/broker.hpp"
#include "punch/plugins/udp.hpp"
#include "punch/registry.hpp"
#include "punch/wire/protocol.hpp"
#include "punch/wire/stun.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <sodium.h>

#include <chrono>
#include <cstring>
#include <exception>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

// Boost.Test prints the values of a failed comparison: teach it ours.
namespace punch::stun {
inline std::ostream& boost_test_print_type(std::ostream& out, message_class c) {
  static constexpr const char* names[] = {"request", "indication", "success_response", "error_response"};
  return out << names[static_cast<int>(c) & 3];
}
}  // namespace punch::stun

template <typename T>
struct boost::test_tools::tt_detail::print_log_value<std::optional<T>> {
  void operator()(std::ostream& out, const std::optional<T>& v) {
    if (v)
      out << *v;
    else
      out << "(none)";
  }
};

namespace broker_test {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using punch::endpoint;
using bytes = std::vector<std::byte>;

// The amplification rule of docs/protocol.md: answer ≤ max(request, 64 bytes).
inline constexpr std::size_t response_floor = 64;

inline punch::stun::transaction_id random_id() {
  punch::stun::transaction_id id;
  randombytes_buf(id.data(), id.size());
  return id;
}

// A request: `add` writes its attributes; `pad_to` pads it with PADDING to at least that size.
inline bytes make_message(punch::stun::message_class cls, std::uint16_t method,
                          const punch::stun::transaction_id& id,
                          const std::function<void(punch::stun::builder&)>& add = {},
                          std::size_t pad_to = 0, bool fingerprint = true) {
  std::array<std::byte, punch::stun::max_message_size> buf;
  punch::stun::builder b(buf, cls, method, id);
  if (add) add(b);
  const std::size_t tail = fingerprint ? punch::stun::fingerprint_size : 0;
  if (b.size() + tail < pad_to) {
    const std::size_t value = pad_to - b.size() - tail - 4;
    const bytes zeros((value + 3) & ~std::size_t{3});
    b.add(punch::wire::attr::padding, zeros);
  }
  auto out = fingerprint ? b.finish_with_fingerprint() : b.finish();
  BOOST_REQUIRE(!b.error());
  return {out.begin(), out.end()};
}

inline bytes make_request(std::uint16_t method, const punch::stun::transaction_id& id,
                          const std::function<void(punch::stun::builder&)>& add = {},
                          std::size_t pad_to = 0, bool fingerprint = true) {
  return make_message(punch::stun::message_class::request, method, id, add, pad_to, fingerprint);
}

// A parsed answer that owns its bytes.
struct answer {
  bytes data;
  punch::stun::message msg;

  std::optional<endpoint> xor_address(std::uint16_t type) const {
    auto a = msg.find(type);
    if (!a) return std::nullopt;
    punch::error_code ec;
    return punch::stun::decode_xor_address(*a, msg.id(), ec);
  }
  std::vector<endpoint> all_xor_addresses(std::uint16_t type) const {
    std::vector<endpoint> out;
    punch::error_code ec;
    for (const auto a : msg)
      if (a.type == type)
        if (auto ep = punch::stun::decode_xor_address(a, msg.id(), ec)) out.push_back(*ep);
    return out;
  }
  std::string text(std::uint16_t type) const {
    auto a = msg.find(type);
    return a ? std::string(punch::stun::decode_string(*a)) : std::string{};
  }
  std::optional<std::uint32_t> u32(std::uint16_t type) const {
    auto a = msg.find(type);
    punch::error_code ec;
    return a ? punch::stun::decode_u32(*a, ec) : std::nullopt;
  }
  int error_code() const {
    auto a = msg.find(punch::stun::attr::error_code);
    punch::error_code ec;
    auto v = a ? punch::stun::decode_error_code(*a, ec) : std::nullopt;
    return v ? v->code : 0;
  }
  std::string reason() const {
    auto a = msg.find(punch::stun::attr::error_code);
    punch::error_code ec;
    auto v = a ? punch::stun::decode_error_code(*a, ec) : std::nullopt;
    return v ? std::string(v->reason) : std::string{};
  }
  std::optional<punch::public_key> key() const {
    auto a = msg.find(punch::wire::attr::public_key);
    if (!a || a->value.size() != punch::public_key_size) return std::nullopt;
    punch::public_key k;
    std::memcpy(k.data(), a->value.data(), k.size());
    return k;
  }
  bytes nonce() const { return nonce_of(msg); }
  bytes credential() const { return credential_of(msg); }
  std::optional<punch::wire::token> token() const {
    auto a = msg.find(punch::wire::attr::token);
    if (!a || a->value.size() != punch::wire::token_size) return std::nullopt;
    punch::wire::token t;
    std::memcpy(t.data(), a->value.data(), t.size());
    return t;
  }
};

// The answer parsed, or nullopt (the test fails) if it is not valid STUN.
inline std::optional<answer> parse(bytes data) {
  answer a{std::move(data), {}};
  punch::error_code ec;
  auto m = punch::stun::message::parse(a.data, ec);
  BOOST_TEST_CONTEXT("parsing a datagram from the broker") { BOOST_TEST(!ec, ec.message()); }
  if (!m) return std::nullopt;
  a.msg = *m;
  return a;
}

// A raw client socket, on 127.0.0.1 unless told otherwise.
class client {
public:
  explicit client(punch::transport& udp, const char* address = "127.0.0.1")
      : socket_(udp.open(endpoint{asio::ip::make_address(address), 0})) {}

  endpoint local() const { return socket_.local_endpoint(); }
  punch::datagram_socket& socket() { return socket_; }

  asio::awaitable<void> send(const bytes& data, const endpoint& to) {
    co_await socket_.async_send_to(asio::buffer(data), to, asio::use_awaitable);
  }

  // The next datagram, or nullopt after `timeout`; `from` receives its source.
  asio::awaitable<std::optional<bytes>> receive(std::chrono::milliseconds timeout = 2s,
                                                endpoint* from = nullptr) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
    endpoint source;
    auto r = co_await (socket_.async_receive_from(asio::buffer(buf_), source, asio::use_awaitable) ||
                       timer.async_wait(asio::use_awaitable));
    if (r.index() != 0) co_return std::nullopt;
    if (from) *from = source;
    const auto n = std::get<0>(r);
    co_return bytes(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(n));
  }

  // Sends `request` and returns the parsed answer (the test fails if none comes in time).
  asio::awaitable<std::optional<answer>> exchange(const bytes& request, const endpoint& to) {
    co_await send(request, to);
    auto data = co_await receive();
    BOOST_TEST_REQUIRE(data.has_value(), "no answer from the broker within 2 s");
    BOOST_TEST(data->size() <= std::max(request.size(), response_floor),
               "answer of " << data->size() << " bytes to a request of " << request.size());
    co_return parse(std::move(*data));
  }

  // Registers as a peer does: with the NONCE of the broker's last answer to this socket, or
  // first unsigned (answered 401 with a NONCE), then signed by `who`; a 401 or 438 with a
  // fresh NONCE is tried once more. Keeps the success answer's REFRESH-CREDENTIAL. Returns
  // the last answer (the test fails if none comes).
  // (By value: a coroutine must not keep references to its caller's temporaries.)
  asio::awaitable<std::optional<answer>> register_as(punch::identity who, register_fields f, endpoint to) {
    std::optional<answer> a;
    for (int attempt = 0; attempt < 3; ++attempt) {
      a = co_await exchange(register_request(who, f, nonce, random_id()), to);
      if (!a) co_return a;
      if (auto n = a->nonce(); !n.empty()) nonce = n;
      if (auto c = a->credential(); !c.empty()) credential = c;
      const int code = a->error_code();
      if (code != punch::wire::error::unauthenticated && code != punch::wire::error::stale_nonce) break;
      if (code == punch::wire::error::unauthenticated && a->reason() == "bad signature") break;
    }
    co_return a;
  }

  // The NONCE the broker last gave this socket, and the REFRESH-CREDENTIAL of its last
  // successful signed Register (register_as).
  bytes nonce;
  bytes credential;

private:
  punch::datagram_socket socket_;
  std::array<std::byte, 2048> buf_{};
};

// A broker on 127.0.0.1 over the udp transport, with the events it emitted. Its clock is the
// steady clock plus `skew`, which a test moves on instead of waiting (NONCE age, expiry,
// token buckets); freeze() stops it, so that only `skew` moves it.
struct broker_fixture {
  explicit broker_fixture(punch::broker_options options = {}, std::size_t capacity = 100,
                          endpoint listen = endpoint{asio::ip::make_address("127.0.0.1"), 0})
      : udp(make_udp(ctx)),
        socket(udp->open(listen)),
        registry(punch::make_memory_registry(capacity)),
        broker(socket, *registry, with_clock(std::move(options))),
        address(socket.local_endpoint()),
        event_timer(ctx) {
    broker.on_event([this](const punch::broker_event& e) {
      events.push_back(e);
      event_timer.cancel();
    });
  }

  punch::broker_options with_clock(punch::broker_options o) {
    if (!o.clock) o.clock = [this] { return now(); };
    return o;
  }
  // The broker's time.
  std::chrono::steady_clock::time_point now() const {
    return (frozen ? *frozen : std::chrono::steady_clock::now()) + skew;
  }
  void freeze() { frozen = std::chrono::steady_clock::now(); }

  static std::unique_ptr<punch::transport> make_udp(asio::io_context& ctx) {
    punch::error_code ec;
    auto t = punch::udp::make_transport(ctx.get_executor(), {}, ec);
    BOOST_TEST_REQUIRE(!ec, ec.message());
    return t;
  }

  std::size_t count(punch::broker_event::kind k) const {
    return static_cast<std::size_t>(
        std::count_if(events.begin(), events.end(), [k](const auto& e) { return e.what == k; }));
  }

  // Waits until an event of kind `k` has been emitted, at most `timeout`.
  asio::awaitable<bool> wait_for(punch::broker_event::kind k, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (count(k) == 0 && std::chrono::steady_clock::now() < deadline) {
      event_timer.expires_at(deadline);
      co_await event_timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_return count(k) > 0;
  }

  // Serves while `test` runs, then closes the broker's socket; the whole run is bounded.
  void run(std::function<asio::awaitable<void>()> test) {
    bool served = false, tested = false;
    std::exception_ptr failure;
    asio::co_spawn(ctx, broker.run(), [&](std::exception_ptr e) {
      served = true;
      if (e) failure = e;
    });
    asio::co_spawn(ctx, test(), [&](std::exception_ptr e) {
      tested = true;
      if (e) failure = e;
      socket.close();
    });
    ctx.run_for(30s);
    BOOST_TEST_REQUIRE(tested, "the test coroutine did not finish within 30 s");
    BOOST_TEST(served, "broker.run() did not end after its socket was closed");
    if (failure) std::rethrow_exception(failure);
  }

  // Declared first: the broker's clock reads them.
  std::chrono::nanoseconds skew{0};
  std::optional<std::chrono::steady_clock::time_point> frozen;
  asio::io_context ctx;
  std::unique_ptr<punch::transport> udp;
  punch::datagram_socket socket;
  std::unique_ptr<punch::registry> registry;
  punch::broker broker;
  endpoint address;
  std::vector<punch::broker_event> events;
  asio::steady_timer event_timer;
};

}  // namespace broker_test
