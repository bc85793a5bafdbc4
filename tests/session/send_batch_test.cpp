// connection::send_batch over loopback UDP (the udp transport's sendmmsg): every datagram of a
// batch larger than one system call's arrives, in order; a batch with one datagram too large
// sends nothing; the ends of a connection and an empty handle are reported as send() reports
// them; two batches at once (the second seals into its own buffer) both arrive whole.
#include "run_coroutine.hpp"

#include "punch/broker.hpp"
#include "punch/connection.hpp"
#include "punch/plugins/udp.hpp"
#include "punch/registry.hpp"
#include "punch/session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace punch;
using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

// A broker and two sessions on loopback; body(alice's connection, bob's) runs once connected.
struct loopback_pair {
  asio::io_context ctx;
  std::unique_ptr<transport> udp;
  datagram_socket broker_socket;
  std::unique_ptr<registry> reg = make_memory_registry(16);
  std::unique_ptr<broker> b;
  std::unique_ptr<session> alice, bob;

  loopback_pair() {
    error_code ec;
    udp = udp::make_transport(ctx.get_executor(), {}, ec);
    BOOST_REQUIRE(!ec);
    const auto loopback = asio::ip::make_address("127.0.0.1");
    broker_socket = udp->open(endpoint{loopback, 0});
    b = std::make_unique<broker>(broker_socket, *reg);
    asio::co_spawn(ctx, b->run(), asio::detached);
    session_options o;
    o.broker = b->local_endpoint();
    o.local = endpoint{loopback, 0};
    auto oa = o, ob = o;
    oa.id = "alice";
    ob.id = "bob";
    alice = std::make_unique<session>(*udp, oa);
    bob = std::make_unique<session>(*udp, ob);
  }

  // No frame refused by the replay window: batches keep the order of their frames.
  std::uint64_t frames_replayed() const { return alice->stats().frames_replayed + bob->stats().frames_replayed; }

  template <typename Body>
  void run(Body body) {
    test::run_to_completion(ctx, [&]() -> asio::awaitable<void> {
      co_await (alice->register_self() && bob->register_self());
      auto [ca, cb] = co_await (alice->connect("bob") && bob->accept());
      co_await body(ca, cb);
      alice->close();
      bob->close();
      broker_socket.close();
    }());
  }
};

// Datagram i says "<prefix><i>", padded with its index to `size` bytes.
std::vector<std::string> numbered(const std::string& prefix, int count, std::size_t size = 300) {
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) {
    std::string d = prefix + std::to_string(i) + ":";
    d.resize(size, static_cast<char>('a' + i % 26));
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<asio::const_buffer> buffers(const std::vector<std::string>& texts) {
  std::vector<asio::const_buffer> out;
  for (const auto& t : texts) out.push_back(asio::buffer(t));
  return out;
}

asio::awaitable<std::string> receive_text(connection& c) {
  std::array<char, 2048> in;
  const std::size_t n = co_await c.receive(asio::buffer(in));
  co_return std::string(in.data(), n);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(send_batch_test)

BOOST_AUTO_TEST_CASE(a_batch_larger_than_one_system_call_arrives_whole_and_in_order) {
  loopback_pair p;
  p.run([](connection& a, connection& b) -> asio::awaitable<void> {
    // 130 datagrams: the session's batch of 64 twice and 2 more, of many sizes and the largest
    // (about 120 KB of the receiving socket's buffer: under the kernel's default of 208 KiB,
    // in case its loop reads nothing before the last went out).
    std::vector<std::string> texts = numbered("d", 130, 8);
    for (std::size_t i = 0; i < texts.size(); ++i) texts[i].resize(8 + i * 37 % 400, 'x');
    texts[texts.size() - 2].resize(connection::max_payload(), 'y');
    texts.back().resize(connection::max_payload(), 'z');
    const auto out = buffers(texts);
    const std::size_t sent = co_await a.send_batch(out);
    BOOST_TEST(sent == texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i) {
      const std::string got = co_await receive_text(b);
      BOOST_TEST_REQUIRE(got == texts[i], "datagram " << i << " of the batch");
    }
    // And the other way, after them: the connection goes on as before.
    const auto back = numbered("r", 3);
    BOOST_TEST(co_await b.send_batch(buffers(back)) == 3u);
    for (const auto& t : back) BOOST_TEST(co_await receive_text(a) == t);
  });
  BOOST_TEST(p.frames_replayed() == 0u);
}

BOOST_AUTO_TEST_CASE(a_batch_with_one_datagram_too_large_sends_none_of_them) {
  loopback_pair p;
  p.run([](connection& a, connection& b) -> asio::awaitable<void> {
    auto texts = numbered("d", 5);
    texts[3].resize(connection::max_payload() + 1, 'z');
    auto [ec, n] = co_await a.send_batch(buffers(texts), asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(ec == make_error_code(errc::payload_too_large));
    BOOST_TEST(n == 0u);
    // What comes next is the first thing b receives: nothing of the refused batch went out.
    const std::string marker = "after the refused batch";
    co_await a.send(asio::buffer(marker));
    BOOST_TEST(co_await receive_text(b) == marker);
  });
}

BOOST_AUTO_TEST_CASE(an_empty_batch_completes_with_zero_and_the_ends_are_reported_as_send_reports_them) {
  loopback_pair p;
  p.run([](connection& a, connection& b) -> asio::awaitable<void> {
    BOOST_TEST(co_await a.send_batch(std::span<const asio::const_buffer>{}) == 0u);
    const auto texts = numbered("d", 2);
    co_await a.close();
    auto [closed_here, n1] = co_await a.send_batch(buffers(texts), asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(closed_here == make_error_code(errc::closed_locally));
    BOOST_TEST(n1 == 0u);
    // b saw the close (its receive ends with eof); its batch then fails as its send would.
    auto [eof, ignored] = co_await b.receive(asio::mutable_buffer{}, asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(eof == asio::error::eof);
    auto [closed_there, n2] = co_await b.send_batch(buffers(texts), asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(closed_there == make_error_code(errc::connection_closed));
    BOOST_TEST(n2 == 0u);
    connection empty;
    auto [no_state, n3] = co_await empty.send_batch(buffers(texts), asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(no_state == make_error_code(errc::empty_connection));
    BOOST_TEST(n3 == 0u);
  });
}

BOOST_AUTO_TEST_CASE(two_batches_at_once_both_arrive_whole) {
  loopback_pair p;
  p.run([](connection& a, connection& b) -> asio::awaitable<void> {
    // The first takes the session's batch; the second, started before it completes, seals
    // into its own. Each batch keeps its own order; the two may interleave.
    const auto first = numbered("f", 70, 100), second = numbered("s", 30, 100);
    const auto out1 = buffers(first), out2 = buffers(second);
    auto [n1, n2] = co_await (a.send_batch(out1) && a.send_batch(out2));
    BOOST_TEST(n1 == 70u);
    BOOST_TEST(n2 == 30u);
    std::size_t next_first = 0, next_second = 0;
    for (int i = 0; i < 100; ++i) {
      const std::string got = co_await receive_text(b);
      if (next_first < first.size() && got == first[next_first]) {
        ++next_first;
      } else if (next_second < second.size() && got == second[next_second]) {
        ++next_second;
      } else {
        BOOST_FAIL("datagram " << i << " out of its batch's order: " << got.substr(0, 8));
      }
    }
    BOOST_TEST(next_first == 70u);
    BOOST_TEST(next_second == 30u);
  });
  BOOST_TEST(p.frames_replayed() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
