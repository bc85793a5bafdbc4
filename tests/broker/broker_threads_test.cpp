// Brokers on two threads, one port (SO_REUSEPORT), one shared registry and one NONCE secret,
// as punch-broker --threads runs them: a Connect finds a peer registered through the other
// thread, and the target's Introduce answer, which the kernel hands to the other thread's
// socket, still ends the introduction (no retransmissions, an `introduced` event). Also the
// shared registry's own contract: the memory registry's, from several threads at once.
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

#include <array>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

BOOST_AUTO_TEST_SUITE(broker_threads_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

namespace {

namespace asio = boost::asio;
using namespace punch;
using namespace std::chrono_literals;
using bytes = std::vector<std::byte>;

bytes make(stun::message_class cls, std::uint16_t method, std::uint32_t n,
           std::string_view id = {}, std::string_view target = {}, std::size_t pad_to = 0) {
  std::array<std::byte, stun::max_message_size> buf;
  stun::transaction_id tid{std::byte{0x7e}};
  std::memcpy(tid.data() + 4, &n, sizeof n);
  stun::builder b(buf, cls, method, tid);
  if (!id.empty()) b.add_string(wire::attr::peer_id, id);
  if (!target.empty()) b.add_string(wire::attr::target_id, target);
  static const std::array<std::byte, 400> zeros{};
  if (b.size() + stun::fingerprint_size < pad_to)
    b.add(wire::attr::padding, std::span(zeros).first((pad_to - b.size() - stun::fingerprint_size - 4 + 3) & ~std::size_t{3}));
  auto out = b.finish_with_fingerprint();
  return {out.begin(), out.end()};
}

// A blocking client socket on 127.0.0.1 that gives up on a receive after `patience`.
struct client {
  explicit client(std::uint16_t broker_port) : fd(::socket(AF_INET, SOCK_DGRAM, 0)) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local);
    to.sin_family = AF_INET;
    to.sin_port = htons(broker_port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }
  ~client() { ::close(fd); }
  void send(const bytes& b) { ::sendto(fd, b.data(), b.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to); }
  // Registers as `id` with key `who`: the unsigned Register, then the signed one over the
  // NONCE of the 401 answer. The last answer.
  std::optional<stun::message> register_as(const identity& who, const std::string& id, std::uint32_t n) {
    const broker_test::register_fields fields{id, {}, {}};
    stun::transaction_id tid{std::byte{0x7f}};
    std::memcpy(tid.data() + 4, &n, sizeof n);
    send(broker_test::register_request(who, fields, {}, tid));
    auto challenge = receive(std::chrono::seconds(2));
    if (!challenge) return challenge;
    const auto nonce = broker_test::nonce_of(*challenge);  // copied: the next receive reuses `in`
    tid[3] = std::byte{1};
    send(broker_test::register_request(who, fields, nonce, tid));
    return receive(std::chrono::seconds(2));
  }
  std::optional<stun::message> receive(std::chrono::milliseconds patience) {
    const timeval tv{0, static_cast<suseconds_t>(std::chrono::microseconds(patience).count())};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const auto n = ::recv(fd, in.data(), in.size(), 0);
    if (n <= 0) return std::nullopt;
    error_code ec;
    return stun::message::parse(std::span<const std::byte>(in.data(), static_cast<std::size_t>(n)), ec);
  }
  int fd;
  sockaddr_in to{};
  std::array<std::byte, 2048> in{};
};

// Two brokers, each on its own thread and io_context, sharing a port and a registry.
struct two_threads {
  struct worker {
    asio::io_context ctx{1};
    std::unique_ptr<transport> t;
    datagram_socket socket;
    std::unique_ptr<broker> b;
    std::thread thread;
  };

  two_threads() {
    for (std::size_t i = 0; i < workers.size(); ++i) {
      auto& w = workers[i];
      error_code ec;
      w.t = udp::make_transport(w.ctx.get_executor(), {{"reuse-port", "true"}, {"batch", "8"}}, ec);
      BOOST_TEST_REQUIRE(!ec);
      w.socket = w.t->open(i == 0 ? endpoint{asio::ip::make_address("127.0.0.1"), 0} : workers[0].socket.local_endpoint());
      broker_options options;
      options.nonce_secret = secret;  // a peer's datagrams may reach either thread
      w.b = std::make_unique<broker>(w.socket, *reg, options);
      w.b->on_event([this, i](const broker_event& e) {
        std::lock_guard lock(mutex);
        events.emplace_back(i, e);
      });
    }
    for (auto& w : workers) w.b->share_introductions_with({workers[0].b.get(), workers[1].b.get()});
    for (auto& w : workers) {
      asio::co_spawn(w.ctx, w.b->run(), asio::detached);
      w.thread = std::thread([&w] { w.ctx.run(); });
    }
  }
  ~two_threads() {
    for (auto& w : workers) asio::post(w.ctx, [&w] { w.socket.close(); });
    for (auto& w : workers) w.thread.join();
  }

  std::uint16_t port() { return workers[0].socket.local_endpoint().port(); }
  std::vector<std::pair<std::size_t, broker_event>> seen() {
    std::lock_guard lock(mutex);
    return events;
  }

  std::unique_ptr<registry> reg = make_shared_registry(1000, 4);
  broker_secret secret = random_broker_secret();
  std::array<worker, 2> workers;
  std::mutex mutex;
  std::vector<std::pair<std::size_t, broker_event>> events;
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_connect_across_threads_introduces_once_and_is_acknowledged) {
  two_threads brokers;
  // Sixteen peers: the kernel spreads their addresses over the two sockets.
  std::vector<std::unique_ptr<client>> peers;
  for (std::uint32_t i = 0; i < 16; ++i) {
    auto& c = *peers.emplace_back(std::make_unique<client>(brokers.port()));
    auto answer = c.register_as(broker_test::test_identity(static_cast<int>(i)), "peer" + std::to_string(i), i);
    BOOST_TEST_REQUIRE(answer.has_value());
    BOOST_TEST_REQUIRE((answer->cls() == stun::message_class::success_response));
  }
  // Which thread heard each peer.
  std::array<std::optional<std::size_t>, 16> home{};
  for (const auto& [thread, e] : brokers.seen())
    if (e.what == broker_event::kind::registered) home[std::stoul(e.id.substr(4))] = thread;
  std::optional<std::size_t> a, b;
  for (std::size_t i = 1; i < 16 && !b; ++i)
    if (home[i] && home[0] && *home[i] != *home[0]) a = 0, b = i;
  BOOST_TEST_REQUIRE(b.has_value(), "all sixteen peers hashed to one socket");

  client& alice = *peers[*a];
  client& bob = *peers[*b];
  alice.send(make(stun::message_class::request, wire::method::connect, 100, "peer" + std::to_string(*a),
                  "peer" + std::to_string(*b), wire::answer_bound::connect));
  auto answer = alice.receive(2s);
  BOOST_TEST_REQUIRE(answer.has_value());
  BOOST_TEST((answer->cls() == stun::message_class::success_response), "bob was not found across threads");
  auto intro = bob.receive(2s);
  BOOST_TEST_REQUIRE(intro.has_value());
  BOOST_TEST(intro->method() == wire::method::introduce);
  // Bob acknowledges; the answer reaches bob's thread, not the one that sent the Introduce.
  std::array<std::byte, stun::header_size> ack_buf;
  stun::builder ack(ack_buf, stun::message_class::success_response, wire::method::introduce, intro->id());
  const auto ack_bytes = ack.finish();
  bob.send(bytes(ack_bytes.begin(), ack_bytes.end()));
  // The Introduce is retransmitted after 100 ms unless the acknowledgement got through.
  BOOST_TEST(!bob.receive(400ms).has_value(), "the Introduce was retransmitted: the answer was lost between threads");
  std::size_t introduced = 0, failed = 0;
  for (const auto& [thread, e] : brokers.seen()) {
    introduced += e.what == broker_event::kind::introduced;
    failed += e.what == broker_event::kind::introduce_failed;
  }
  BOOST_TEST(introduced == 1u);
  BOOST_TEST(failed == 0u);
}

BOOST_AUTO_TEST_CASE(the_shared_registry_keeps_every_registration_made_from_several_threads) {
  auto reg = make_shared_registry(4000, 8);
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        registration_record r;
        r.set_id("t" + std::to_string(t) + "-" + std::to_string(i));
        r.key[0] = std::byte(t);
        r.reflexive = endpoint{asio::ip::make_address("203.0.113.1"), static_cast<std::uint16_t>(1000 + t)};
        r.expires = now + std::chrono::seconds(i % 2 ? 10 : 100);
        reg->upsert(r, now);
      }
    });
  for (auto& t : threads) t.join();
  BOOST_TEST(reg->size() == 2000u);
  BOOST_TEST(reg->find("t3-499", now).has_value());
  BOOST_TEST(reg->find("t2-0", now)->reflexive.port() == 1002);
  BOOST_TEST(reg->expire(now + std::chrono::seconds(50)) == 1000u);
  BOOST_TEST(!reg->find("t1-1", now + std::chrono::seconds(50)).has_value());
  BOOST_TEST(reg->erase("t0-0"));
  BOOST_TEST(reg->size() == 999u);
}

BOOST_AUTO_TEST_SUITE_END()  // broker_threads_test
