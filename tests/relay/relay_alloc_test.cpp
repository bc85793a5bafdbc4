// The relay's forwarding path does not allocate (ring: real): a relay serves real UDP on
// 127.0.0.1 on its own thread; two raw POSIX sockets allocate (NONCE exchange) and then
// bounce datagrams through it, and a counting global operator new (tests/support, linked
// into this binary only) sees nothing while the relay forwards a steady burst. The clients
// build every datagram before the burst, so whatever is counted is the relay's.
#include "counting_new.hpp"
#include "relay_test_support.hpp"

#include "punch/plugins/udp.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

using namespace relay_test;

namespace {

// A blocking POSIX UDP socket on 127.0.0.1 with a receive timeout.
struct raw_socket {
  raw_socket() : fd(::socket(AF_INET, SOCK_DGRAM, 0)) {
    const timeval patience{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local);
  }
  ~raw_socket() { ::close(fd); }
  void send(std::span<const std::byte> d, const sockaddr_in& to) const {
    ::sendto(fd, d.data(), d.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  }
  // The size of the next datagram (into `in`), or -1 after the timeout.
  long receive(std::span<std::byte> in) const { return ::recv(fd, in.data(), in.size(), 0); }
  int fd;
};

// ALLOCATE with the NONCE exchange; true on a success answer.
bool allocate(const raw_socket& s, const sockaddr_in& relay, const punch::relay_id& id) {
  std::array<std::byte, 2048> in;
  bytes nonce;
  for (int attempt = 0; attempt < 2; ++attempt) {
    s.send(allocate_request(id, nonce), relay);
    const long n = s.receive(in);
    if (n <= 0) return false;
    punch::error_code ec;
    auto m = stun::message::parse(std::span<const std::byte>(in.data(), static_cast<std::size_t>(n)), ec);
    if (!m) return false;
    if (m->cls() == stun::message_class::success_response) return true;
    auto a = m->find(wire::attr::nonce);
    if (!a) return false;
    nonce.assign(a->value.begin(), a->value.end());
  }
  return false;
}

// Alice → relay → Bob, then Bob → relay → Alice, `rounds` times; returns the round trips that
// came back whole.
std::size_t bounce(const raw_socket& alice, const raw_socket& bob, const sockaddr_in& relay,
                   std::span<const std::byte> d, std::size_t rounds) {
  std::array<std::byte, 2048> in;
  std::size_t ok = 0;
  for (std::size_t i = 0; i < rounds; ++i) {
    alice.send(d, relay);
    if (bob.receive(in) != static_cast<long>(d.size())) continue;
    bob.send(d, relay);
    if (alice.receive(in) == static_cast<long>(d.size())) ++ok;
  }
  return ok;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_relay_forwards_a_steady_burst_without_allocating) {
  asio::io_context ctx;
  punch::error_code ec;
  auto udp = punch::udp::make_transport(ctx.get_executor(), {}, ec);
  BOOST_TEST_REQUIRE(!ec);
  auto socket = udp->open(ep("127.0.0.1", 0));
  // A short sweep interval, so that expiry runs during the burst too.
  punch::relay_options settings;
  settings.expiry_interval = std::chrono::milliseconds(20);
  punch::relay r(socket, settings);
  asio::co_spawn(ctx, r.run(), asio::detached);
  std::thread server([&] { ctx.run(); });

  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(r.local_endpoint().port());
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  raw_socket alice, bob;
  const auto id = make_relay_id(5);
  const bool allocated = allocate(alice, to, id) && allocate(bob, to, id);

  const bytes frame(1229, std::byte{0xD0});  // the largest sealed data frame
  const std::size_t warm = allocated ? bounce(alice, bob, to, frame, 200) : 0;
  punch::test::start_counting();
  const std::size_t burst = allocated ? bounce(alice, bob, to, frame, 1000) : 0;
  const std::size_t counted = punch::test::stop_counting();

  asio::post(ctx, [&] { socket.close(); });  // the socket belongs to the server thread
  server.join();
  BOOST_TEST_REQUIRE(allocated, "the two sockets could not allocate");
  BOOST_TEST(warm == 200u);
  BOOST_TEST(burst == 1000u);
  BOOST_TEST(r.stats().forwarded >= 2400u);
  BOOST_TEST(counted == 0u, counted << " allocations while forwarding " << 2 * burst << " datagrams");
}
