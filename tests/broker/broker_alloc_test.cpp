// The broker's hot path does not allocate: a counting global operator new (tests/support,
// linked into this binary only) sees no allocation while the broker answers a steady-state
// burst of Binding, signed Register refreshes (NONCE check, signature verification), refreshes
// by REFRESH-CREDENTIAL (a keyed hash) and Lookups over real UDP, every datagram through the
// rate limiter. (Connect allocates by design: each one starts an Introduce exchange, a
// coroutine with its own state.) The client is a raw POSIX socket on another thread, with
// every request built (and signed) before the burst, so that whatever is counted is the
// broker's.
#include "counting_new.hpp"
#include "signed_register.hpp"

#include "punch/broker.hpp"
#include "punch/plugins/udp.hpp"
#include "punch/registry.hpp"
#include "punch/wire/protocol.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/test/unit_test.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
using namespace punch;
using bytes = std::vector<std::byte>;

stun::transaction_id tid_of(std::uint32_t n) {
  stun::transaction_id tid{};
  std::memcpy(tid.data(), &n, sizeof n);
  return tid;
}

bytes request(std::uint16_t method, std::uint32_t n, std::string_view id, std::string_view target,
              std::size_t pad_to = 0) {
  std::array<std::byte, stun::max_message_size> buf;
  stun::builder b(buf, stun::message_class::request, method, tid_of(n));
  if (!id.empty()) b.add_string(wire::attr::peer_id, id);
  if (!target.empty()) b.add_string(wire::attr::target_id, target);
  static const std::array<std::byte, 400> zeros{};
  if (b.size() + stun::fingerprint_size < pad_to)
    b.add(wire::attr::padding, std::span(zeros).first((pad_to - b.size() - stun::fingerprint_size - 4 + 3) & ~std::size_t{3}));
  auto out = b.finish_with_fingerprint();
  return {out.begin(), out.end()};
}

// Sends the requests `window` at a time, each window's answers read before the next window
// goes out; returns how many success answers came back. A window of 1 is lockstep; a larger
// one lets the broker receive several requests per batch and answer them in one batch send.
std::size_t exchange_all(int fd, const sockaddr_in& to, const std::vector<bytes>& requests, std::size_t window) {
  std::array<std::byte, 2048> in;
  std::size_t ok = 0;
  for (std::size_t first = 0; first < requests.size(); first += window) {
    const std::size_t count = std::min(window, requests.size() - first);
    for (std::size_t i = first; i < first + count; ++i)
      ::sendto(fd, requests[i].data(), requests[i].size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    for (std::size_t i = 0; i < count; ++i) {
      const auto n = ::recv(fd, in.data(), in.size(), 0);  // SO_RCVTIMEO bounds the wait
      if (n >= 20 && (std::to_integer<int>(in[0]) & 0x01) == 0x01 && (std::to_integer<int>(in[1]) & 0x10) == 0) ++ok;
    }
  }
  return ok;
}

// The NONCE of the broker's 401 to an unsigned Register from `fd`.
bytes nonce_for(int fd, const sockaddr_in& to, const identity& who, const broker_test::register_fields& f) {
  const auto r = broker_test::register_request(who, f, {}, tid_of(0xFFFFFFFF));
  ::sendto(fd, r.data(), r.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  std::array<std::byte, 2048> in;
  const auto n = ::recv(fd, in.data(), in.size(), 0);
  error_code ec;
  auto m = stun::message::parse(std::span<const std::byte>(in.data(), n > 0 ? static_cast<std::size_t>(n) : 0), ec);
  BOOST_TEST_REQUIRE(m.has_value(), "no answer to the unsigned Register");
  return broker_test::nonce_of(*m);
}

// The REFRESH-CREDENTIAL of the broker's answer to `who`'s Register signed over `nonce`.
bytes credential_for(int fd, const sockaddr_in& to, const identity& who, const broker_test::register_fields& f,
                     std::span<const std::byte> nonce) {
  const auto r = broker_test::register_request(who, f, nonce, tid_of(0xFFFFFFFE));
  ::sendto(fd, r.data(), r.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  std::array<std::byte, 2048> in;
  const auto n = ::recv(fd, in.data(), in.size(), 0);
  error_code ec;
  auto m = stun::message::parse(std::span<const std::byte>(in.data(), n > 0 ? static_cast<std::size_t>(n) : 0), ec);
  BOOST_TEST_REQUIRE(m.has_value(), "no answer to the signed Register");
  const bytes c = broker_test::credential_of(*m);
  BOOST_TEST_REQUIRE(c.size() == wire::refresh_credential_size, "no REFRESH-CREDENTIAL in the answer");
  return c;
}

// Serves a warm-up burst, then counts allocations during a second burst, both sent `window`
// requests at a time; returns the broker's statistics.
broker_stats check_burst_without_allocation(const transport_options& options, std::size_t window) {
  asio::io_context ctx;
  error_code ec;
  auto udp = udp::make_transport(ctx.get_executor(), options, ec);
  BOOST_TEST_REQUIRE(!ec);
  auto socket = udp->open(endpoint{asio::ip::make_address("127.0.0.1"), 0});
  auto reg = make_memory_registry(1000);
  // A short expiry interval, so that the expiry loop runs during the burst too; a rate limit
  // that admits everything, so that every datagram goes through a bucket.
  broker_options settings;
  settings.expiry_interval = std::chrono::milliseconds(20);
  settings.rate_limit = 10'000'000;
  settings.rate_burst = 10'000'000;
  broker b(socket, *reg, settings);
  asio::co_spawn(ctx, b.run(), asio::detached);
  std::thread server([&] { ctx.run(); });

  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  const timeval patience{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(b.local_endpoint().port());
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  // Every kind of request the hot path serves, the ids long enough to defeat the small-string
  // optimisation: a Binding, signed Register refreshes (same id, same source, same NONCE),
  // refreshes by REFRESH-CREDENTIAL, a Lookup.
  const std::string alice = "alice-with-a-long-peer-id-0001", bob = "bob-with-a-long-peer-id-000002";
  const identity alice_key = broker_test::test_identity(1), bob_key = broker_test::test_identity(2);
  const std::vector<endpoint> host{endpoint{asio::ip::make_address("192.168.1.2"), 4000}};
  const broker_test::register_fields alice_fields{alice, 600, host}, bob_fields{bob, 600, host};
  const bytes nonce = nonce_for(fd, to, alice_key, alice_fields);  // good for 5 minutes
  const bytes alice_credential = credential_for(fd, to, alice_key, alice_fields, nonce);
  const bytes bob_credential = credential_for(fd, to, bob_key, bob_fields, nonce);
  std::vector<bytes> warm_up, burst;
  for (std::uint32_t i = 0; i < 600; ++i) {
    auto& into = i < 200 ? warm_up : burst;
    into.push_back(request(stun::method::binding, i * 5, {}, {}));
    into.push_back(broker_test::register_request(alice_key, alice_fields, nonce, tid_of(i * 5 + 1)));
    into.push_back(broker_test::refresh_request(alice_key, alice_fields, alice_credential, tid_of(i * 5 + 2)));
    into.push_back(broker_test::refresh_request(bob_key, bob_fields, bob_credential, tid_of(i * 5 + 3)));
    into.push_back(request(wire::method::lookup, i * 5 + 4, {}, bob, wire::answer_bound::lookup));
  }
  const std::size_t warm_ok = exchange_all(fd, to, warm_up, window);
  test::start_counting();
  const std::size_t burst_ok = exchange_all(fd, to, burst, window);
  const std::size_t counted = test::stop_counting();

  asio::post(ctx, [&] { socket.close(); });  // the socket belongs to the server thread
  server.join();
  ::close(fd);
  BOOST_TEST(warm_ok == warm_up.size(), "the warm-up burst was not answered with successes");
  BOOST_TEST(burst_ok == burst.size(), "the burst was not answered with successes");
  BOOST_TEST(b.stats().lookups >= 600u);
  BOOST_TEST(b.stats().registrations >= 1800u);
  BOOST_TEST(b.stats().refreshes >= 1200u);
  BOOST_TEST(b.stats().auth_failed == 0u);
  BOOST_TEST(counted == 0u, counted << " allocations while answering " << burst.size() << " requests");
  return b.stats();
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_broker_answers_a_steady_burst_without_allocating) {
  check_burst_without_allocation({}, 1);
}

BOOST_AUTO_TEST_CASE(the_broker_on_batched_sockets_answers_a_steady_burst_without_allocating) {
  check_burst_without_allocation({{"batch", "64"}}, 1);
}

// 50 requests in flight: the broker takes them in batches (recvmmsg) and answers each batch
// with one sendmmsg, still without allocating.
BOOST_AUTO_TEST_CASE(the_broker_on_batched_sockets_answers_windows_of_requests_in_batches_without_allocating) {
  const broker_stats s = check_burst_without_allocation({{"batch", "64"}}, 50);
  BOOST_TEST_MESSAGE(s.received << " datagrams in " << s.batches << " receives");
  BOOST_TEST(s.batches < s.received, "every receive brought one datagram: no batch was ever taken");
}

// The udp transport's default socket (no batch=N) has the batch operations too: its single
// operations are one system call each, its batch receive one recvmmsg.
BOOST_AUTO_TEST_CASE(the_broker_on_default_sockets_takes_batches_too_without_allocating) {
  const broker_stats s = check_burst_without_allocation({}, 50);
  BOOST_TEST_MESSAGE(s.received << " datagrams in " << s.batches << " receives");
  BOOST_TEST(s.batches < s.received, "every receive brought one datagram: no batch was ever taken");
}
