// Tests of the transport interface: datagram_socket hands every completion token to the plugin
// as one any_completion_handler (cancellation slot and executor included) and closes its
// plugin socket when it goes away. A recording socket_impl stands in for a plugin.
#include "run_coroutine.hpp"

#include "punch/transport.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <chrono>
#include <string>
#include <string_view>

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using punch::endpoint;
using punch::error_code;

// The error_code for an error enum, so that BOOST_TEST can print both sides.
template <typename Enum>
error_code code(Enum e) {
  return make_error_code(e);
}

const endpoint local_ep{asio::ip::make_address("192.0.2.1"), 4000};
const endpoint peer_ep{asio::ip::make_address("198.51.100.7"), 5000};

// What the plugin side saw. The test completes receives by hand through deliver().
struct calls {
  int sends = 0;
  int receives = 0;
  int closes = 0;
  bool open = true;
  endpoint last_to;
  std::size_t last_size = 0;
  endpoint* from = nullptr;
  asio::mutable_buffer buffer;
  punch::datagram_handler pending;
  bool slot_connected = false;
  asio::cancellation_type cancelled = asio::cancellation_type::none;
};

class recording_socket final : public punch::socket_impl {
public:
  recording_socket(asio::any_io_executor ex, std::shared_ptr<calls> seen)
      : ex_(std::move(ex)), seen_(std::move(seen)) {}

  asio::any_io_executor get_executor() override { return ex_; }
  endpoint local_endpoint() const override { return local_ep; }
  bool is_open() const override { return seen_->open; }
  void close() override {
    ++seen_->closes;
    seen_->open = false;
    if (seen_->pending) finish(asio::error::operation_aborted, 0);
  }

  void async_send_to(asio::const_buffer data, const endpoint& to,
                     punch::datagram_handler handler) override {
    ++seen_->sends;
    seen_->last_to = to;
    seen_->last_size = data.size();
    asio::post(ex_, asio::append(std::move(handler), error_code{}, data.size()));
  }

  void async_receive_from(asio::mutable_buffer data, endpoint& from,
                          punch::datagram_handler handler) override {
    ++seen_->receives;
    seen_->from = &from;
    seen_->buffer = data;
    auto slot = handler.get_cancellation_slot();
    seen_->slot_connected = slot.is_connected();
    seen_->pending.swap(handler);  // not operator=: see datagram_handler in transport.hpp
    if (slot.is_connected())
      slot.assign([seen = seen_, ex = ex_](asio::cancellation_type type) {
        abort_pending(seen, ex, type);
      });
  }

  // Takes copies: clearing the slot destroys the lambda that called it, captures included.
  static void abort_pending(std::shared_ptr<calls> seen, asio::any_io_executor ex,
                            asio::cancellation_type type) {
    seen->cancelled = type;
    auto handler = std::move(seen->pending);
    handler.get_cancellation_slot().clear();
    asio::post(ex, asio::append(std::move(handler), error_code{asio::error::operation_aborted},
                                std::size_t{0}));
  }

  void finish(error_code ec, std::size_t n) {
    auto handler = std::move(seen_->pending);
    handler.get_cancellation_slot().clear();
    asio::post(ex_, asio::append(std::move(handler), ec, n));
  }

private:
  asio::any_io_executor ex_;
  std::shared_ptr<calls> seen_;
};

// Completes the pending receive as if `bytes` had arrived from `sender`.
void deliver(calls& seen, std::string_view bytes, const endpoint& sender,
             const asio::any_io_executor& ex) {
  *seen.from = sender;
  std::size_t n = asio::buffer_copy(seen.buffer, asio::buffer(bytes));
  auto handler = std::move(seen.pending);
  handler.get_cancellation_slot().clear();
  asio::post(ex, asio::append(std::move(handler), error_code{}, n));
}

class fake_transport final : public punch::transport {
public:
  fake_transport(asio::any_io_executor ex, std::shared_ptr<calls> seen)
      : ex_(std::move(ex)), seen_(std::move(seen)) {}
  std::string name() const override { return "fake"; }
  asio::any_io_executor get_executor() override { return ex_; }
  using punch::transport::open;
  punch::datagram_socket open(const endpoint& local, error_code& ec) override {
    // Port 9 plays the taken port.
    if (local.port() == 9) {
      ec = punch::errc::address_in_use;
      return {};
    }
    ec.clear();
    return punch::datagram_socket{std::make_unique<recording_socket>(ex_, seen_)};
  }

private:
  asio::any_io_executor ex_;
  std::shared_ptr<calls> seen_;
};

struct fixture {
  asio::io_context ctx;
  std::shared_ptr<calls> seen = std::make_shared<calls>();
  fake_transport transport{ctx.get_executor(), seen};

  void run(asio::awaitable<void> body) { test::run_to_completion(ctx, std::move(body)); }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(transport, fixture)

BOOST_AUTO_TEST_CASE(a_plain_callback_gets_the_byte_count_the_plugin_reports) {
  auto socket = transport.open(local_ep);
  std::size_t sent = 0;
  error_code result = asio::error::would_block;
  socket.async_send_to(asio::buffer("hello", 5), peer_ep, [&](error_code ec, std::size_t n) {
    result = ec;
    sent = n;
  });
  ctx.run();
  BOOST_TEST(!result);
  BOOST_TEST(sent == 5u);
  BOOST_TEST(seen->sends == 1);
  BOOST_TEST(seen->last_to == peer_ep);
}

BOOST_AUTO_TEST_CASE(use_awaitable_returns_the_datagram_and_throws_the_abort) {
  auto socket = transport.open(local_ep);
  run([&]() -> asio::awaitable<void> {
    std::array<char, 16> buf{};
    endpoint from;
    asio::post(ctx, [&] { deliver(*seen, "ping", peer_ep, ctx.get_executor()); });
    std::size_t n = co_await socket.async_receive_from(asio::buffer(buf), from,
                                                       asio::use_awaitable);
    BOOST_TEST(std::string_view(buf.data(), n) == "ping");
    BOOST_TEST(from == peer_ep);

    asio::post(ctx, [&] { socket.close(); });
    BOOST_CHECK_EXCEPTION(
        co_await socket.async_receive_from(asio::buffer(buf), from, asio::use_awaitable),
        punch::system_error,
        [](const punch::system_error& e) { return e.code() == asio::error::operation_aborted; });
  }());
}

BOOST_AUTO_TEST_CASE(as_tuple_returns_the_error_instead_of_throwing) {
  auto socket = transport.open(local_ep);
  run([&]() -> asio::awaitable<void> {
    std::array<char, 16> buf{};
    endpoint from;
    asio::post(ctx, [&] { socket.close(); });
    auto [ec, n] = co_await socket.async_receive_from(asio::buffer(buf), from,
                                                      asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(ec == code(asio::error::operation_aborted));
    BOOST_TEST(n == 0u);
  }());
}

BOOST_AUTO_TEST_CASE(a_deferred_operation_reaches_the_plugin_only_when_launched) {
  auto socket = transport.open(local_ep);
  auto op = socket.async_send_to(asio::buffer("abc", 3), peer_ep, asio::deferred);
  BOOST_TEST(seen->sends == 0);
  std::size_t sent = 0;
  std::move(op)([&](error_code, std::size_t n) { sent = n; });
  BOOST_TEST(seen->sends == 1);
  ctx.run();
  BOOST_TEST(sent == 3u);
}

BOOST_AUTO_TEST_CASE(a_cancellation_slot_bound_to_the_token_reaches_the_plugin) {
  auto socket = transport.open(local_ep);
  asio::cancellation_signal signal;
  std::array<char, 16> buf{};
  endpoint from;
  error_code result;
  socket.async_receive_from(asio::buffer(buf), from,
                            asio::bind_cancellation_slot(
                                signal.slot(), [&](error_code ec, std::size_t) { result = ec; }));
  BOOST_TEST(seen->slot_connected);
  signal.emit(asio::cancellation_type::terminal);
  ctx.run();
  BOOST_TEST(result == code(asio::error::operation_aborted));
  BOOST_TEST((seen->cancelled == asio::cancellation_type::terminal));
}

BOOST_AUTO_TEST_CASE(the_completion_runs_on_the_executor_bound_to_the_handler) {
  auto socket = transport.open(local_ep);
  auto strand = asio::make_strand(ctx);
  bool on_strand = false;
  socket.async_send_to(asio::buffer("x", 1), peer_ep,
                       asio::bind_executor(strand, [&](error_code, std::size_t) {
                         on_strand = strand.running_in_this_thread();
                       }));
  ctx.run();
  BOOST_TEST(on_strand);
}

BOOST_AUTO_TEST_CASE(destroying_a_socket_closes_its_plugin_socket) {
  { auto socket = transport.open(local_ep); }
  BOOST_TEST(seen->closes == 1);
}

BOOST_AUTO_TEST_CASE(a_moved_socket_keeps_its_plugin_socket_and_the_source_is_closed) {
  auto first = transport.open(local_ep);
  punch::datagram_socket second = std::move(first);
  BOOST_TEST(!first.is_open());
  BOOST_TEST(second.is_open());
  BOOST_TEST(second.local_endpoint() == local_ep);
  first.close();
  BOOST_TEST(seen->closes == 0);
}

BOOST_AUTO_TEST_CASE(a_default_socket_is_closed_and_closing_it_is_harmless) {
  punch::datagram_socket socket;
  BOOST_TEST(!socket.is_open());
  socket.close();
  BOOST_TEST(socket.impl() == nullptr);
}

BOOST_AUTO_TEST_CASE(the_throwing_open_names_the_transport_and_the_endpoint) {
  const endpoint taken{asio::ip::make_address("192.0.2.1"), 9};
  BOOST_CHECK_EXCEPTION(transport.open(taken), punch::system_error,
                        [](const punch::system_error& e) {
                          const std::string what = e.what();
                          return e.code() == punch::errc::address_in_use &&
                                 &e.code().category() == &punch::category() &&
                                 what.find("\"fake\"") != std::string::npos &&
                                 what.find("192.0.2.1:9") != std::string::npos;
                        });
}

BOOST_AUTO_TEST_CASE(a_transport_that_keeps_the_defaults_offers_no_port_mapping_and_answers_unanswered_later) {
  BOOST_TEST(!transport.maps_ports("natpmp"));
  BOOST_TEST(!transport.maps_ports("upnp"));
  bool called = false;
  error_code got;
  punch::port_mapping_query query;
  query.protocol = "natpmp";
  transport.async_map_port(query, [&](error_code ec, punch::port_mapping_answer) {
    called = true;
    got = ec;
  });
  BOOST_TEST(!called);  // never inside the call
  ctx.run();
  BOOST_TEST(called);
  BOOST_TEST(got == make_error_code(punch::errc::port_mapping_unanswered));
}

BOOST_AUTO_TEST_SUITE_END()
