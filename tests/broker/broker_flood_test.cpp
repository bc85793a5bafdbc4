// A broker on loopback UDP takes a flood of random datagrams (1,000,000 by default) from
// several sockets — pure random bytes, random bytes behind a valid STUN header, valid requests
// with random ids, and mutated valid requests — and afterwards still registers, looks up and
// introduces two real sessions, which then exchange a datagram. Its counters must show the
// flood, the malformed part of it included, and no answer may break the amplification rule.
//
// The flood is paced by the broker's own `received` counter (broker and flood share one
// io_context): at most `window` datagrams are in flight, so nothing is lost to a full socket
// buffer. PUNCH_FLOOD_DATAGRAMS overrides the count; the sanitizer build floods 200,000 by
// default (ASan makes every datagram several times slower; the mix is the same).
//
// The broker's rate limit is off here: the whole flood comes from one address (127.0.0.1),
// and with the limit on all but its first 200 datagrams would be dropped unread, which tests
// nothing about parsing. The limit has its own test (tests/broker/broker_rate_limit_test.cpp).
#include "punch/broker.hpp"
#include "punch/plugins/udp.hpp"
#include "punch/registry.hpp"
#include "punch/session.hpp"
#include "punch/wire/protocol.hpp"
#include "punch/wire/stun.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <random>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(broker_flood_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

namespace asio = boost::asio;
using namespace punch;
using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr std::uint64_t default_datagrams = 200'000;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr std::uint64_t default_datagrams = 200'000;
#else
constexpr std::uint64_t default_datagrams = 1'000'000;
#endif
#else
constexpr std::uint64_t default_datagrams = 1'000'000;
#endif

std::uint64_t flood_size() {
  if (const char* v = std::getenv("PUNCH_FLOOD_DATAGRAMS")) return std::strtoull(v, nullptr, 10);
  return default_datagrams;
}

using bytes = std::vector<std::byte>;

// Builds the flood, one datagram at a time, from a fixed seed.
class flood_source {
public:
  explicit flood_source(std::uint64_t seed) : rng_(seed) {}

  // Pure random bytes that cannot be STUN (top bits set, or shorter than a header): the
  // broker must count each of these as malformed.
  std::uint64_t certainly_malformed = 0;

  // `nonce`: the last NONCE the broker sent to the socket this datagram goes from (empty:
  // none yet), which a Register may sign.
  void next(bytes& d, std::span<const std::byte> nonce) {
    nonce_ = nonce;
    switch (pick(4)) {
      case 0: random_bytes(d); break;
      case 1: stun_header_then_random(d); break;
      case 2: valid_request(d); break;
      default: valid_request(d); mutate(d); break;
    }
  }

private:
  std::uint64_t pick(std::uint64_t n) { return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng_); }
  std::byte random_byte() { return std::byte(pick(256)); }

  void random_bytes(bytes& d) {
    d.resize(pick(549));
    for (auto& b : d) b = random_byte();
    if (d.size() < stun::header_size || (d[0] & std::byte{0xC0}) != std::byte{0}) ++certainly_malformed;
  }

  void stun_header_then_random(bytes& d) {
    const std::size_t body = 4 * pick(64);
    d.resize(stun::header_size + body);
    for (auto& b : d) b = random_byte();
    d[0] &= std::byte{0x3F};
    // Mostly a consistent length field, so the attribute walk is what decides.
    const std::size_t length = pick(8) == 0 ? pick(0x10000) : body;
    d[2] = std::byte(length >> 8);
    d[3] = std::byte(length & 0xFF);
    const std::array<std::byte, 4> cookie{std::byte{0x21}, std::byte{0x12}, std::byte{0xA4}, std::byte{0x42}};
    std::copy(cookie.begin(), cookie.end(), d.begin() + 4);
    if (pick(2) == 0 && body >= stun::fingerprint_size) {
      // A well-formed FINGERPRINT at the end; the attributes before it stay random.
      const std::size_t at = d.size() - stun::fingerprint_size;
      d[at] = std::byte{0x80}, d[at + 1] = std::byte{0x28}, d[at + 2] = std::byte{0}, d[at + 3] = std::byte{4};
      const auto v = stun::fingerprint_of(std::span<const std::byte>(d).first(at));
      for (int i = 0; i < 4; ++i) d[at + 4 + static_cast<std::size_t>(i)] = std::byte(v >> (24 - 8 * i));
    }
  }

  std::string some_id() { return "flood-" + std::to_string(pick(1000)); }

  // A well-formed request of a random method, with random ids and candidates, padded as
  // peers pad; with or without FINGERPRINT (without, mutations still parse).
  void valid_request(bytes& d) {
    stun::transaction_id id;
    for (auto& b : id) b = random_byte();
    const std::uint16_t methods[] = {wire::method::binding, wire::method::register_peer, wire::method::lookup,
                                     wire::method::connect, wire::method::introduce};
    const std::uint16_t method = methods[pick(5)];
    const bool answer = method == wire::method::introduce;  // an Introduce "acknowledgement"
    stun::builder b(buf_, answer ? stun::message_class::success_response : stun::message_class::request, method, id);
    std::size_t pad = 0;
    if (method == wire::method::register_peer) {
      b.add_string(wire::attr::peer_id, some_id());
      b.add_u32(wire::attr::lifetime, static_cast<std::uint32_t>(pick(700)));
      for (std::uint64_t i = pick(4); i > 0; --i)
        b.add_xor_address(wire::attr::host_candidate,
                          endpoint{asio::ip::address_v4(static_cast<std::uint32_t>(rng_())), static_cast<unsigned short>(pick(65536))});
      pad = wire::answer_bound::reg;
      if (!nonce_.empty() && pick(2) == 0) {
        // Signed as a peer signs, over the broker's NONCE for this socket: registers (one key
        // for every flood id, so that ids move between the sockets), unless mutated.
        b.add(wire::attr::public_key, key_.key());
        b.add(wire::attr::nonce, nonce_);
        b.add_covering(wire::attr::signature, signature_size, [&](std::span<const std::byte> covered, std::span<std::byte> out) {
          const auto sig = key_.sign(covered);
          std::copy(sig.begin(), sig.end(), out.begin());
        });
        pad = 0;
      } else {
        // Unsigned: challenged (401); with a NONCE that is not the broker's (438); with a
        // random signature too; without a key (400).
        if (pick(4) != 0) b.add(wire::attr::public_key, random_value(public_key_size));
        if (pick(2) == 0) b.add(wire::attr::nonce, random_value(wire::nonce_size));
        if (pick(4) == 0) b.add(wire::attr::signature, random_value(signature_size));
      }
    } else if (method == wire::method::lookup) {
      b.add_string(wire::attr::target_id, some_id());
      pad = pick(2) ? wire::answer_bound::lookup : 0;
    } else if (method == wire::method::connect) {
      b.add_string(wire::attr::peer_id, some_id());
      b.add_string(wire::attr::target_id, some_id());
      pad = pick(2) ? wire::answer_bound::connect : 0;
    }
    const bool fingerprint = pick(2) == 0;
    const std::size_t tail = fingerprint ? stun::fingerprint_size : 0;
    if (b.size() + tail + 4 < pad) b.add(wire::attr::padding, std::span(zeros_).first((pad - b.size() - tail - 4 + 3) & ~std::size_t{3}));
    const auto out = fingerprint ? b.finish_with_fingerprint() : b.finish();
    d.assign(out.begin(), out.end());
  }

  std::span<const std::byte> random_value(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) value_[i] = random_byte();
    return std::span<const std::byte>(value_).first(n);
  }

  // Flips, truncates or extends: 1 to 4 edits.
  void mutate(bytes& d) {
    for (std::uint64_t edits = 1 + pick(4); edits > 0; --edits) {
      switch (pick(4)) {
        case 0:
          if (!d.empty()) d.resize(pick(d.size()));
          break;
        case 1:
          d.push_back(random_byte());
          break;
        default:
          if (!d.empty()) d[pick(d.size())] ^= std::byte(1u << pick(8));
          break;
      }
    }
  }

  std::mt19937_64 rng_;
  std::array<std::byte, stun::max_message_size> buf_{};
  std::array<std::byte, stun::max_message_size> zeros_{};
  std::array<std::byte, 64> value_{};
  std::span<const std::byte> nonce_;
  identity key_ = identity::from_seed(std::array<std::byte, 32>{std::byte{0x0f}});
};

// What the flood sockets heard back.
struct answers {
  std::uint64_t introductions = 0;  // Introduce requests to flood ids registered from our sockets
  std::vector<std::vector<std::byte>> nonces;  // per flood socket: the last NONCE the broker sent it
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
  std::size_t largest = 0;
};

asio::awaitable<void> drain(asio::ip::udp::socket& s, answers& heard, std::size_t index) {
  std::array<std::byte, 2048> buf;
  asio::ip::udp::endpoint from;
  for (;;) {
    auto [ec, n] = co_await s.async_receive_from(asio::buffer(buf), from, asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !s.is_open()) co_return;
    if (ec) continue;  // ICMP feedback; not ours to judge
    // Class bits of the STUN type (RFC 8489 §5): requests are Introduces, not answers.
    const bool request = n >= 2 && (buf[0] & std::byte{0x01}) == std::byte{0} && (buf[1] & std::byte{0x10}) == std::byte{0};
    if (request) {
      ++heard.introductions;
      continue;
    }
    ++heard.count;
    error_code parse_ec;
    if (auto m = stun::message::parse(std::span<const std::byte>(buf.data(), n), parse_ec))
      if (auto nonce = m->find(wire::attr::nonce)) heard.nonces[index].assign(nonce->value.begin(), nonce->value.end());
    heard.bytes += n;
    heard.largest = std::max(heard.largest, n);
  }
}

struct flood_result {
  std::uint64_t sent = 0;
  std::uint64_t budget = 0;  // Σ max(request, 64): the most the broker may answer in total
  std::uint64_t certainly_malformed = 0;
  bool stalled = false;
  std::chrono::milliseconds took{0};
};

// Sends `total` datagrams round-robin from `sockets`, never more than `window` ahead of what
// the broker has received; gives up (stalled) if the broker makes no progress for 10 s.
asio::awaitable<flood_result> flood(const broker& b, std::vector<asio::ip::udp::socket>& sockets,
                                    const endpoint& to, std::uint64_t total, const answers& heard) {
  constexpr std::uint64_t window = 64;
  flood_result r;
  flood_source source(0x70756E6368ULL);
  bytes d;
  const auto start = std::chrono::steady_clock::now();
  const std::uint64_t received_before = b.stats().received;
  auto last_progress = start;
  std::uint64_t last_received = received_before;
  while (r.sent < total) {
    while (r.sent < total && r.sent - (b.stats().received - received_before) < window) {
      source.next(d, heard.nonces[r.sent % sockets.size()]);
      boost::system::error_code ec;
      sockets[r.sent % sockets.size()].send_to(asio::buffer(d), to, 0, ec);
      BOOST_TEST_REQUIRE(!ec, "flood send failed: " << ec.message());
      ++r.sent;
      r.budget += std::max<std::uint64_t>(d.size(), 64);
    }
    // Lets the broker (same io_context) read what is in flight: a yield, not a sleep.
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    const auto now = std::chrono::steady_clock::now();
    if (b.stats().received != last_received) {
      last_received = b.stats().received;
      last_progress = now;
    } else if (now - last_progress > 10s) {
      r.stalled = true;
      break;
    }
  }
  // The last window: wait (yielding) until the broker has read everything, bounded as above.
  while (b.stats().received - received_before < r.sent && !r.stalled) {
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    const auto now = std::chrono::steady_clock::now();
    if (b.stats().received != last_received) {
      last_received = b.stats().received;
      last_progress = now;
    } else if (now - last_progress > 10s) {
      r.stalled = true;
    }
  }
  r.certainly_malformed = source.certainly_malformed;
  r.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  co_return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_broker_flooded_with_random_datagrams_still_registers_looks_up_and_introduces) {
  const std::uint64_t total = flood_size();
  asio::io_context ctx;
  error_code ec;
  auto udp = udp::make_transport(ctx.get_executor(), {}, ec);
  BOOST_TEST_REQUIRE(!ec, ec.message());
  const auto loopback = asio::ip::make_address("127.0.0.1");
  auto broker_socket = udp->open(endpoint{loopback, 0});
  auto reg = make_memory_registry(4096);
  broker_options options;
  options.rate_limit = 0;  // see the file's comment
  broker b(broker_socket, *reg, options);
  bool served = false;
  std::exception_ptr failure;
  asio::co_spawn(ctx, b.run(), [&](std::exception_ptr e) {
    served = true;
    if (e) failure = e;
  });

  std::vector<asio::ip::udp::socket> flooders;
  for (int i = 0; i < 4; ++i) flooders.emplace_back(ctx, asio::ip::udp::endpoint{loopback, 0});
  answers heard;
  heard.nonces.resize(flooders.size());
  for (std::size_t i = 0; i < flooders.size(); ++i) asio::co_spawn(ctx, drain(flooders[i], heard, i), asio::detached);

  session_options o;
  o.broker = b.local_endpoint();
  o.local = endpoint{loopback, 0};
  auto oa = o, ob = o;
  oa.id = "alice";
  ob.id = "bob";

  flood_result flooded;
  broker_stats after_flood;
  peer_info looked_up;
  endpoint bob_local;
  std::string heard_by_bob;
  bool done = false;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        flooded = co_await flood(b, flooders, b.local_endpoint(), total, heard);
        after_flood = b.stats();
        session alice(*udp, oa), bob(*udp, ob);
        bob_local = bob.local_endpoint();
        co_await (alice.register_self() && bob.register_self());
        looked_up = co_await alice.lookup("bob");
        auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
        const std::string hello = "still standing";
        co_await ca.send(asio::buffer(hello));
        std::array<char, 64> buf{};
        const std::size_t n = co_await cb.receive(asio::buffer(buf));
        heard_by_bob.assign(buf.data(), n);
        co_await (ca.close() && cb.close());
        alice.close();
        bob.close();
        done = true;
      },
      [&](std::exception_ptr e) {
        if (e) failure = e;
        for (auto& s : flooders) s.close();
        broker_socket.close();
      });
  ctx.run_for(280s);

  if (failure) std::rethrow_exception(failure);
  BOOST_TEST_REQUIRE(done, "the flood and the sessions did not finish within 280 s");
  BOOST_TEST(served, "broker.run() did not end after its socket was closed");
  BOOST_TEST_MESSAGE("flooded " << flooded.sent << " datagrams in " << flooded.took.count() << " ms; "
                                << after_flood.malformed << " malformed, " << heard.count << " answers, "
                                << heard.introductions << " introductions");

  BOOST_TEST(!flooded.stalled, "the broker stopped reading during the flood");
  BOOST_TEST(flooded.sent == total);
  // Every flood datagram reached the broker and was counted; the malformed ones as such.
  BOOST_TEST(after_flood.received == total);
  BOOST_TEST(after_flood.malformed >= flooded.certainly_malformed);
  BOOST_TEST(flooded.certainly_malformed > total / 8);
  BOOST_TEST(after_flood.errors_sent > 0u);
  BOOST_TEST(after_flood.challenges > 0u);
  BOOST_TEST(after_flood.rate_limited == 0u);
  // The flood's signed Registers got through, and so did Connects between its ids.
  BOOST_TEST(after_flood.registrations > 0u);
  BOOST_TEST(after_flood.auth_failed > 0u);  // the mutated ones
  BOOST_TEST(heard.introductions > 0u);
  BOOST_TEST(after_flood.bindings > 0u);
  // Amplification: no answer beyond the requests' budget, none larger than a STUN maximum.
  BOOST_TEST(heard.bytes <= flooded.budget);
  BOOST_TEST(heard.largest <= stun::max_message_size);

  // Afterwards the broker still does its job.
  BOOST_TEST(looked_up.id == "bob");
  BOOST_TEST(looked_up.reflexive == bob_local);
  BOOST_TEST(heard_by_bob == "still standing");
  BOOST_TEST(b.stats().registrations >= after_flood.registrations + 2);
  BOOST_TEST(b.stats().introductions_acked >= after_flood.introductions_acked + 1);
}

BOOST_AUTO_TEST_SUITE_END()  // broker_flood_test
