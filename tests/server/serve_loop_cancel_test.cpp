// A cancelled serve loop ends promptly whatever it was doing (issue 16). broker::run() and
// relay::run() serve a udp socket (batch=64, as the apps do) on 127.0.0.1 under a closed-loop
// load; the socket is wrapped so that the n-th completion of any of its operations first
// cancels run() and stops the load, then runs the operation's handler: a cancellation that
// comes while a completion is queued, between two operations, which asio hands to no
// operation. For every n up to 48 (receives and sends, in both receive loops), run() must end
// within a second without another datagram. Before the fix, a loop cancelled at a send's
// completion went on to receive and waited for ever.
#include "relay_test_support.hpp"

#include "punch/broker.hpp"
#include "punch/plugins/udp.hpp"
#include "punch/registry.hpp"
#include "punch/relay.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <functional>

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using punch::datagram_handler;
using punch::endpoint;
using punch::error_code;

constexpr std::size_t last_interruption = 48;  // the completions tried: n = 1 … 48
constexpr std::size_t window = 8;              // requests in flight

// A socket whose n-th completion (of any operation) calls `interrupt` just before the
// operation's handler runs. Everything else is the inner socket's.
class interrupting_socket final : public punch::socket_impl {
public:
  interrupting_socket(punch::datagram_socket inner, std::size_t n, std::function<void()> interrupt)
      : inner_(std::move(inner)), n_(n), interrupt_(std::move(interrupt)) {}

  asio::any_io_executor get_executor() override { return inner_.get_executor(); }
  endpoint local_endpoint() const override { return inner_.local_endpoint(); }
  bool is_open() const override { return inner_.is_open(); }
  void close() override { inner_.close(); }
  void async_send_to(asio::const_buffer data, const endpoint& to, datagram_handler h) override {
    inner_.impl()->async_send_to(data, to, wrap(std::move(h)));
  }
  void async_receive_from(asio::mutable_buffer data, endpoint& from, datagram_handler h) override {
    inner_.impl()->async_receive_from(data, from, wrap(std::move(h)));
  }
  void async_receive_batch(std::span<punch::received_datagram> slots, datagram_handler h) override {
    inner_.impl()->async_receive_batch(slots, wrap(std::move(h)));
  }
  void async_send_batch(std::span<const punch::outgoing_datagram> datagrams, datagram_handler h) override {
    inner_.impl()->async_send_batch(datagrams, wrap(std::move(h)));
  }

  std::size_t completions() const noexcept { return completed_; }

private:
  // The caller's handler with its slot and executor, counted on completion.
  datagram_handler wrap(datagram_handler h) {
    const auto slot = asio::get_associated_cancellation_slot(h);
    const auto ex = asio::get_associated_executor(h, get_executor());
    return datagram_handler(asio::bind_cancellation_slot(
        slot, asio::bind_executor(ex, [this, h = std::move(h)](error_code ec, std::size_t n) mutable {
          if (++completed_ == n_) interrupt_();
          std::move(h)(ec, n);
        })));
  }

  punch::datagram_socket inner_;
  std::size_t n_;
  std::function<void()> interrupt_;
  std::size_t completed_ = 0;
};

// Sends `request` from 127.0.0.1 `window` at a time, one more per answer, until cancelled.
asio::awaitable<void> load(endpoint server, std::vector<std::byte> request) {
  asio::ip::udp::socket s(co_await asio::this_coro::executor, endpoint(asio::ip::address_v4::loopback(), 0));
  for (std::size_t i = 0; i < window; ++i) co_await s.async_send_to(asio::buffer(request), server, asio::use_awaitable);
  std::array<std::byte, 2048> in;
  for (;;) {
    endpoint from;
    co_await s.async_receive_from(asio::buffer(in), from, asio::use_awaitable);
    co_await s.async_send_to(asio::buffer(request), server, asio::use_awaitable);
  }
}

// One server on an interrupting socket, its load, and whether run() ended.
struct interrupted_run {
  asio::io_context ctx;
  asio::cancellation_signal stop_server, stop_load;
  interrupting_socket* wrapper = nullptr;
  punch::datagram_socket socket;
  bool interrupted = false, served = false;
  std::exception_ptr failure;

  explicit interrupted_run(std::size_t n) {
    error_code ec;
    auto udp = punch::udp::make_transport(ctx.get_executor(), {{"batch", "64"}}, ec);
    BOOST_REQUIRE(!ec);
    auto inner = udp->open(endpoint(asio::ip::address_v4::loopback(), 0));
    auto w = std::make_unique<interrupting_socket>(std::move(inner), n, [this] {
      interrupted = true;
      stop_server.emit(asio::cancellation_type::terminal);
      stop_load.emit(asio::cancellation_type::terminal);
    });
    wrapper = w.get();
    socket = punch::datagram_socket(std::move(w));
    transport_ = std::move(udp);
  }

  // Serves `serve` under the load of `request` until run() ends, at most a second after the
  // interruption (or 5 s in all); true if run() ended.
  bool serve(asio::awaitable<void> serve, std::vector<std::byte> request) {
    asio::co_spawn(ctx, std::move(serve), asio::bind_cancellation_slot(stop_server.slot(), [this](std::exception_ptr e) {
                     failure = e;
                     served = true;
                   }));
    // The load ends cancelled (operation_aborted), as it should.
    asio::co_spawn(ctx, load(socket.local_endpoint(), std::move(request)),
                   asio::bind_cancellation_slot(stop_load.slot(), [](std::exception_ptr) {}));
    for (const auto deadline = std::chrono::steady_clock::now() + 5s; !interrupted && std::chrono::steady_clock::now() < deadline;)
      ctx.run_one_for(100ms);
    if (interrupted) ctx.run_for(1s);  // returns as soon as run() and the load have ended
    if (failure) std::rethrow_exception(failure);
    return served;
  }

private:
  std::unique_ptr<punch::transport> transport_;
};

std::vector<std::byte> binding_request() {
  std::vector<std::byte> b(20, std::byte{0});
  b[1] = std::byte{0x01};
  b[4] = std::byte{0x21}, b[5] = std::byte{0x12}, b[6] = std::byte{0xA4}, b[7] = std::byte{0x42};
  return b;
}

}  // namespace

BOOST_AUTO_TEST_CASE(broker_run_ends_within_a_second_when_cancelled_at_any_completion_of_its_socket) {
  for (std::size_t n = 1; n <= last_interruption; ++n) {
    interrupted_run r(n);
    auto registry = punch::make_memory_registry(16);
    punch::broker_options options;
    options.rate_limit = 0;
    punch::broker b(r.socket, *registry, options);
    const bool ended = r.serve(b.run(), binding_request());
    BOOST_TEST_REQUIRE(r.interrupted, "fewer than " << n << " completions");
    BOOST_TEST(ended, "broker::run() still running a second after cancelled at completion " << n);
  }
}

BOOST_AUTO_TEST_CASE(relay_run_ends_within_a_second_when_cancelled_at_any_completion_of_its_socket) {
  // ALLOCATE without a NONCE: each is answered 401 (a send), well inside the burst of the
  // per-address ALLOCATE rate limit.
  const auto request = relay_test::allocate_request(relay_test::make_relay_id(1));
  for (std::size_t n = 1; n <= last_interruption; ++n) {
    interrupted_run r(n);
    punch::relay relay(r.socket, {});
    const bool ended = r.serve(relay.run(), request);
    BOOST_TEST_REQUIRE(r.interrupted, "fewer than " << n << " completions");
    BOOST_TEST(ended, "relay::run() still running a second after cancelled at completion " << n);
  }
}
