// The connection's queue of received datagrams (session/datagram_queue.hpp): order kept across
// the ring's wrap and growth, the capacity, truncation to the reader's buffer, and no
// allocation once it has grown.
#include "session/datagram_queue.hpp"

#include "counting_new.hpp"

#include <boost/test/unit_test.hpp>

#include <array>
#include <string>

using punch::detail::datagram_queue;

namespace {

bool push(datagram_queue& q, const std::string& s) { return q.push(std::as_bytes(std::span(s.data(), s.size()))); }

std::string pop(datagram_queue& q) {
  std::array<char, 64> buf{};
  const std::size_t n = q.pop(boost::asio::buffer(buf));
  return {buf.data(), n};
}

}  // namespace

BOOST_AUTO_TEST_CASE(datagrams_come_out_in_order_across_the_wrap_and_the_growth) {
  datagram_queue q(100);
  int in = 0, out = 0;
  // Three in, two out: the front moves along the ring while it grows under it.
  for (int round = 0; round < 30; ++round) {
    for (int k = 0; k < 3; ++k) BOOST_TEST_REQUIRE(push(q, "d" + std::to_string(in++)));
    for (int k = 0; k < 2; ++k) BOOST_TEST_REQUIRE(pop(q) == "d" + std::to_string(out++));
  }
  BOOST_TEST(q.size() == 30u);
  while (!q.empty()) BOOST_TEST_REQUIRE(pop(q) == "d" + std::to_string(out++));
  BOOST_TEST(out == in);
}

BOOST_AUTO_TEST_CASE(a_full_queue_refuses_and_keeps_what_it_has) {
  datagram_queue q(5);
  for (int i = 0; i < 5; ++i) BOOST_TEST(push(q, "d" + std::to_string(i)));
  BOOST_TEST(q.full());
  BOOST_TEST(!push(q, "one too many"));
  for (int i = 0; i < 5; ++i) BOOST_TEST(pop(q) == "d" + std::to_string(i));
  BOOST_TEST(q.empty());
}

BOOST_AUTO_TEST_CASE(a_datagram_longer_than_the_buffer_is_truncated_and_an_empty_one_is_kept) {
  datagram_queue q(4);
  push(q, std::string(100, 'x'));
  push(q, "");
  push(q, "after");
  BOOST_TEST(pop(q) == std::string(64, 'x'));
  BOOST_TEST(pop(q) == "");
  BOOST_TEST(pop(q) == "after");
}

BOOST_AUTO_TEST_CASE(a_grown_queue_allocates_nothing) {
  datagram_queue q(256);
  const std::string d(1000, 'd');
  std::array<char, 1200> buf{};
  std::size_t bytes = 0;
  for (int i = 0; i < 16; ++i) push(q, d);
  while (!q.empty()) q.pop(boost::asio::buffer(buf));
  punch::test::start_counting();
  for (int round = 0; round < 1000; ++round) {
    for (int i = 0; i < 16; ++i) push(q, d);
    while (!q.empty()) bytes += q.pop(boost::asio::buffer(buf));
  }
  const std::size_t counted = punch::test::stop_counting();
  BOOST_TEST(counted == 0u);
  BOOST_TEST(bytes == 16u * 1000u * d.size());
}
