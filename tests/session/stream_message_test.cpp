// Message streams (punch/stream_options.hpp, docs/streams.md "Message mode") on the simulated
// network: boundaries kept, unordered delivery, partial reliability by retransmissions and
// by lifetime, and the errors of what does not fit (ring: sim).
#include "session_test_support.hpp"
#include "sim_world.hpp"
#include "stream_test_support.hpp"
#include "tap_transport.hpp"

#include "punch/stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <cstring>
#include <functional>
#include <set>
#include <vector>

BOOST_AUTO_TEST_SUITE(stream_message_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace punch;
using namespace punch::test;
using namespace boost::asio::experimental::awaitable_operators;
namespace asio = boost::asio;

namespace {

using message = std::vector<std::byte>;

// Message `seq` of `size` bytes (at least 4): its number, then bytes seeded by it.
message numbered(std::uint32_t seq, std::size_t size) {
  auto m = random_bytes(size, seq + 1000);
  std::memcpy(m.data(), &seq, sizeof seq);
  return m;
}
std::uint32_t number_of(const message& m) {
  std::uint32_t seq;
  std::memcpy(&seq, m.data(), sizeof seq);
  return seq;
}

asio::awaitable<void> send_all_and_close(stream s, const std::vector<message>& all) {
  for (const auto& m : all) co_await s.async_send_message(asio::buffer(m));
  co_await s.close();
}

// Every message until the stream's end; the code it ended with.
asio::awaitable<void> receive_all(stream s, std::vector<message>& out, error_code& end) {
  message space(stream_options::max_message_size);
  for (;;) {
    auto [ec, n] = co_await s.async_receive_message(asio::buffer(space), asio::as_tuple(asio::use_awaitable));
    if (ec) {
      end = ec;
      co_return;
    }
    out.emplace_back(space.begin(), space.begin() + static_cast<std::ptrdiff_t>(n));
  }
}

// alice and bob through NATs, 2 ms + 0..6 ms of jitter per link (which reorders), each side's
// SCTP frames lost at `loss` and sent twice at `duplication`: alice opens a stream with
// `options`, sends `sent` and closes it; bob accepts it and receives until its end.
struct message_run {
  std::vector<message> got;
  error_code end;
  stream_options accepted;  // what bob's side learned of the mode
  std::size_t lost = 0, doubled = 0;
};
message_run send_through_lossy_path(std::uint64_t seed, double loss, double duplication, const stream_options& options,
                                    const std::vector<message>& sent) {
  message_run r;
  sim_world w(seed, sim::link{2ms, 6ms, 0.0});
  auto& alice_host = w.add_peer_host("alice", "port-restricted-cone");
  auto& bob_host = w.add_peer_host("bob", "full-cone");
  bad_path alice_path{std::mt19937_64(seed), loss, duplication}, bob_path{std::mt19937_64(seed + 1), loss, duplication};
  tap_transport alice_tap(alice_host.transport(), std::ref(alice_path));
  tap_transport bob_tap(bob_host.transport(), std::ref(bob_path));
  session alice(alice_tap, on_clock(w, "alice"));
  session bob(bob_tap, on_clock(w, "bob"));
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
    auto streams = co_await (ca.open_stream(options) && cb.accept_stream());
    r.accepted = std::get<1>(streams).options();
    co_await all_of(tasks(send_all_and_close(std::get<0>(streams), sent), receive_all(std::get<1>(streams), r.got, r.end)));
  }(), 300s);
  r.lost = alice_path.lost + bob_path.lost;
  r.doubled = alice_path.doubled + bob_path.doubled;
  return r;
}

std::vector<message> numbered_messages(std::uint32_t count, std::size_t size) {
  std::vector<message> all;
  for (std::uint32_t i = 0; i < count; ++i) all.push_back(numbered(i, size));
  return all;
}

// Each message received is one that was sent, whole, and none came twice.
void check_intact_and_once(const std::vector<message>& got, const std::vector<message>& sent) {
  std::set<std::uint32_t> seen;
  for (const auto& m : got) {
    BOOST_REQUIRE_GE(m.size(), sizeof(std::uint32_t));
    const auto seq = number_of(m);
    BOOST_REQUIRE_LT(seq, sent.size());
    BOOST_CHECK(m == sent[seq]);
    BOOST_CHECK_MESSAGE(seen.insert(seq).second, "message " << seq << " arrived twice");
  }
}

std::size_t out_of_order(const std::vector<message>& got) {
  std::size_t inversions = 0;
  for (std::size_t i = 1; i < got.size(); ++i) inversions += number_of(got[i]) < number_of(got[i - 1]);
  return inversions;
}

constexpr stream_options reliable_ordered{.mode = stream_mode::messages};

}  // namespace

// Messages of sizes around SCTP's packet (1200 bytes) and up to the largest (64 KiB), and an
// empty one, over a lossy path: each arrives as the message it was sent as, same size, same
// bytes, in order; the accepting side learned the mode from the open.
BOOST_AUTO_TEST_CASE(message_boundaries_are_kept_for_sizes_from_0_to_64_kibibytes) {
  std::vector<message> sent;
  std::uint64_t seed = 1;
  for (std::size_t size : {1u, 1000u, 1199u, 1200u, 1201u, 65536u, 0u, 1u, 1201u, 65536u, 1000u})
    sent.push_back(random_bytes(size, seed++));
  const auto r = send_through_lossy_path(51, 0.05, 0.05, reliable_ordered, sent);
  BOOST_CHECK(r.accepted.mode == stream_mode::messages);
  BOOST_CHECK(r.accepted.ordered);
  BOOST_REQUIRE_EQUAL(r.got.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    BOOST_CHECK_EQUAL(r.got[i].size(), sent[i].size());
    BOOST_CHECK(r.got[i] == sent[i]);
  }
  BOOST_CHECK_EQUAL(r.end, error_code(asio::error::eof));
}

// Reliable and ordered: 400 messages through 10% loss, duplication and jitter all arrive,
// in the order sent, then eof.
BOOST_AUTO_TEST_CASE(reliable_ordered_messages_all_arrive_in_order_through_loss) {
  const auto sent = numbered_messages(400, 700);
  const auto r = send_through_lossy_path(52, 0.10, 0.05, reliable_ordered, sent);
  BOOST_CHECK_GT(r.lost, 10u);
  BOOST_REQUIRE_EQUAL(r.got.size(), sent.size());
  BOOST_CHECK(r.got == sent);
  BOOST_CHECK_EQUAL(r.end, error_code(asio::error::eof));
}

// Unordered and reliable: every message arrives once and intact, but a message lost and
// retransmitted arrives after later ones (at least one out of order: unordered is really
// on); eof comes only once every message the fin counted is in.
BOOST_AUTO_TEST_CASE(unordered_messages_all_arrive_and_some_overtake_through_loss_and_reordering) {
  const auto sent = numbered_messages(400, 700);
  const auto r = send_through_lossy_path(53, 0.10, 0.05, {.mode = stream_mode::messages, .ordered = false}, sent);
  BOOST_CHECK(!r.accepted.ordered);
  BOOST_REQUIRE_EQUAL(r.got.size(), sent.size());
  check_intact_and_once(r.got, sent);
  const auto inversions = out_of_order(r.got);
  BOOST_TEST_MESSAGE(inversions << " messages arrived before one sent earlier; frames lost " << r.lost);
  BOOST_CHECK_GT(inversions, 0u);
  BOOST_CHECK_EQUAL(r.end, error_code(asio::error::eof));
}

// max_retransmits = 0: a message whose packet is lost is abandoned, not sent again. Through
// 10% loss fewer arrive than were sent; none arrives corrupted or twice, and the ordered
// ones in order; the stream still ends with eof.
BOOST_AUTO_TEST_CASE(messages_without_retransmissions_are_abandoned_on_loss_never_corrupted_or_doubled) {
  const auto sent = numbered_messages(400, 700);
  const auto r = send_through_lossy_path(54, 0.10, 0.05,
                                         {.mode = stream_mode::messages, .max_retransmits = std::uint16_t{0}}, sent);
  BOOST_REQUIRE(r.accepted.max_retransmits);
  BOOST_CHECK_EQUAL(*r.accepted.max_retransmits, 0);
  BOOST_TEST_MESSAGE(r.got.size() << " of " << sent.size() << " messages arrived; frames lost " << r.lost);
  BOOST_CHECK_LT(r.got.size(), sent.size());
  BOOST_CHECK_GT(r.got.size(), sent.size() / 2);
  check_intact_and_once(r.got, sent);
  BOOST_CHECK_EQUAL(out_of_order(r.got), 0u);
  BOOST_CHECK_EQUAL(r.end, error_code(asio::error::eof));
}

// max_lifetime: a message not delivered within it is abandoned. usrsctp measures it on the
// real clock, while a retransmission waits at least 200 ms of the simulation's virtual time:
// a lifetime of 0 ms abandons every message at its first retransmission. Unordered, so the
// fin's eof ends the stream; fewer arrive than sent, none corrupted or twice.
BOOST_AUTO_TEST_CASE(messages_past_their_lifetime_are_abandoned_on_loss_never_corrupted_or_doubled) {
  const auto sent = numbered_messages(400, 700);
  const stream_options options{.mode = stream_mode::messages, .ordered = false, .max_lifetime = 0ms};
  const auto r = send_through_lossy_path(55, 0.10, 0.05, options, sent);
  BOOST_REQUIRE(r.accepted.max_lifetime);
  BOOST_CHECK(!r.accepted.ordered);
  BOOST_TEST_MESSAGE(r.got.size() << " of " << sent.size() << " messages arrived; frames lost " << r.lost);
  BOOST_CHECK_LT(r.got.size(), sent.size());
  BOOST_CHECK_GT(r.got.size(), sent.size() / 2);
  check_intact_and_once(r.got, sent);
  BOOST_CHECK_EQUAL(r.end, error_code(asio::error::eof));
}

// What does not fit is refused with its own code, never cut: a message over 64 KiB; a
// receive buffer smaller than the next message (which stays next, and its size is given);
// byte operations on a message stream and message operations on a byte stream; options that
// contradict each other.
BOOST_AUTO_TEST_CASE(what_does_not_fit_a_message_stream_is_refused_with_a_clear_error) {
  sim_world w(56);
  auto& alice = w.add_session(w.add_peer_host("alice", "full-cone"), "alice");
  auto& bob = w.add_session(w.add_peer_host("bob", "full-cone"), "bob");
  error_code too_large, too_small, read_some, write_some, send_on_bytes, contradiction;
  std::size_t needed = 0, received = 0;
  const auto big = random_bytes(stream_options::max_message_size + 1, 7), m = random_bytes(3000, 8);
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
    auto streams = co_await (ca.open_stream(reliable_ordered) && cb.accept_stream());
    stream s = std::get<0>(streams), r = std::get<1>(streams);
    const auto as_tuple = asio::as_tuple(asio::use_awaitable);
    std::tie(too_large, std::ignore) = co_await s.async_send_message(asio::buffer(big), as_tuple);
    co_await s.async_send_message(asio::buffer(m));
    message small(1000), large(4000);
    std::tie(too_small, needed) = co_await r.async_receive_message(asio::buffer(small), as_tuple);
    received = co_await r.async_receive_message(asio::buffer(large));
    std::tie(read_some, std::ignore) = co_await r.async_read_some(asio::buffer(small), as_tuple);
    std::tie(write_some, std::ignore) = co_await s.async_write_some(asio::buffer(m), as_tuple);
    auto bytes = co_await (ca.open_stream() && cb.accept_stream());
    std::tie(send_on_bytes, std::ignore) = co_await std::get<0>(bytes).async_send_message(asio::buffer(m), as_tuple);
    const stream_options unordered_bytes{.ordered = false};
    std::tie(contradiction, std::ignore) = co_await ca.open_stream(unordered_bytes, as_tuple);
  }());
  BOOST_CHECK_EQUAL(too_large, make_error_code(errc::stream_message_too_large));
  BOOST_CHECK_EQUAL(too_small, make_error_code(errc::message_buffer_too_small));
  BOOST_CHECK_EQUAL(needed, m.size());
  BOOST_CHECK_EQUAL(received, m.size());
  BOOST_CHECK_EQUAL(read_some, make_error_code(errc::wrong_stream_mode));
  BOOST_CHECK_EQUAL(write_some, make_error_code(errc::wrong_stream_mode));
  BOOST_CHECK_EQUAL(send_on_bytes, make_error_code(errc::wrong_stream_mode));
  BOOST_CHECK_EQUAL(contradiction, make_error_code(errc::bad_stream_options));
}

BOOST_AUTO_TEST_SUITE_END()
