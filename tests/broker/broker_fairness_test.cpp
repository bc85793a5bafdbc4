// A busy broker still gives the rest of its io_context a turn. While datagrams keep waiting,
// its receive loop takes them without suspending (try_receive_batch), but it resumes through
// the io_context once every few batches, so that timers (registration expiry, Introduce
// retransmissions) and a stop still run under any load. The socket here is a test double
// whose queue never runs dry: every try_receive_batch fills all the slots with Bindings (up
// to a bound, so that a broken loop ends the test instead of hanging it).
#include "punch/broker.hpp"
#include "punch/registry.hpp"
#include "punch/transport.hpp"
#include "punch/wire/stun.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <chrono>
#include <cstring>

namespace {

namespace asio = boost::asio;
using namespace punch;
using namespace std::chrono_literals;

// A socket with an endless queue of Binding requests from one client.
class endless_queue final : public socket_impl {
public:
  static constexpr std::size_t max_tries = 100'000;  // then the queue "runs dry"

  explicit endless_queue(asio::any_io_executor ex) : ex_(std::move(ex)) {
    std::array<std::byte, 64> buf;
    stun::builder b(buf, stun::message_class::request, stun::method::binding, stun::transaction_id{});
    const auto m = b.finish_with_fingerprint();
    binding_size_ = m.size();
    std::memcpy(binding_.data(), m.data(), m.size());
  }

  std::size_t tries = 0;     // try_receive_batch calls that found datagrams
  std::size_t answered = 0;  // answers taken by try_send_batch

  asio::any_io_executor get_executor() override { return ex_; }
  endpoint local_endpoint() const override { return {asio::ip::make_address("127.0.0.1"), 3478}; }
  bool is_open() const override { return open_; }
  void close() override { open_ = false; }

  void async_send_to(asio::const_buffer d, const endpoint&, datagram_handler h) override {
    asio::post(ex_, asio::append(std::move(h), open_ ? error_code{} : make_error_code(errc::socket_closed), d.size()));
  }
  // The asynchronous path: one datagram, or socket_closed.
  void async_receive_from(asio::mutable_buffer data, endpoint& from, datagram_handler h) override {
    if (!open_) return asio::post(ex_, asio::append(std::move(h), make_error_code(errc::socket_closed), std::size_t{0}));
    from = client();
    asio::post(ex_, asio::append(std::move(h), error_code{}, fill(data)));
  }
  std::size_t try_receive_batch(std::span<received_datagram> slots, error_code& ec) override {
    ec = open_ ? error_code{} : make_error_code(errc::socket_closed);
    if (!open_ || tries == max_tries) return 0;
    ++tries;
    for (auto& s : slots) {
      s.size = fill(s.buffer);
      s.from = client();
    }
    return slots.size();
  }
  std::size_t try_send_batch(std::span<const outgoing_datagram> d, error_code& ec) override {
    ec = open_ ? error_code{} : make_error_code(errc::socket_closed);
    if (open_) answered += d.size();
    return open_ ? d.size() : 0;
  }

private:
  static endpoint client() { return {asio::ip::make_address("127.0.0.2"), 40000}; }
  std::size_t fill(asio::mutable_buffer data) const {
    const std::size_t n = std::min(binding_size_, data.size());
    std::memcpy(data.data(), binding_.data(), n);
    return n;
  }

  asio::any_io_executor ex_;
  bool open_ = true;
  std::array<std::byte, 64> binding_{};
  std::size_t binding_size_ = 0;
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_handler_posted_to_a_busy_brokers_io_context_runs_within_a_few_batches) {
  asio::io_context ctx;
  auto impl = std::make_unique<endless_queue>(ctx.get_executor());
  endless_queue& queue = *impl;
  datagram_socket socket(std::move(impl));
  auto reg = make_memory_registry(10);
  broker_options settings;
  settings.rate_limit = 0;  // one client sends everything
  broker b(socket, *reg, settings);
  asio::co_spawn(ctx, b.run(), asio::detached);

  // Queued behind the broker's start: runs at the loop's first resumption through the
  // io_context after it began taking batches.
  std::size_t tries_when_run = 0;
  bool ran = false;
  asio::post(ctx, [&] {
    asio::post(ctx, [&] {
      ran = true;
      tries_when_run = queue.tries;
      socket.close();
    });
  });
  ctx.run_for(20s);

  BOOST_TEST_REQUIRE(ran, "the posted handler never ran");
  BOOST_TEST_MESSAGE("it ran after " << tries_when_run << " batches taken without a resumption; "
                                     << queue.answered << " answers");
  // Without the rule the loop would take every batch the queue offers (100,000) first.
  BOOST_TEST(tries_when_run < 100u, "the receive loop took " << tries_when_run << " batches before anything else ran");
  BOOST_TEST(queue.answered >= 64u, "the broker answered no batch");
}
