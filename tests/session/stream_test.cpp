// Streams over a punched connection (punch/stream.hpp): SCTP inside the connection's frames,
// on the simulated network with loss, reordering and duplication; many streams at once; how
// streams end (ring: sim).
#include "session_test_support.hpp"
#include "sim_world.hpp"
#include "stream_test_support.hpp"
#include "tap_transport.hpp"

#include "punch/stream.hpp"
#include "punch/wire/protocol.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <malloc.h>
#include <sodium.h>

#include <array>
#include <functional>
#include <random>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(stream_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace punch;
using namespace punch::test;
using namespace boost::asio::experimental::awaitable_operators;
namespace asio = boost::asio;

namespace {

std::array<unsigned char, crypto_hash_sha256_BYTES> sha256(const std::vector<std::byte>& v) {
  std::array<unsigned char, crypto_hash_sha256_BYTES> h{};
  crypto_hash_sha256(h.data(), reinterpret_cast<const unsigned char*>(v.data()), v.size());
  return h;
}

// Everything the stream carries until the peer's end (eof), with asio's own algorithm.
asio::awaitable<std::vector<std::byte>> read_to_end(stream& s) {
  std::vector<std::byte> all;
  std::array<std::byte, 32 * 1024> chunk;
  for (;;) {
    auto [ec, n] = co_await asio::async_read(s, asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
    all.insert(all.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
    if (ec == asio::error::eof) co_return all;
    if (ec) throw system_error(ec, "reading the stream");
  }
}

asio::awaitable<void> read_into(stream s, std::vector<std::byte>& out) { out = co_await read_to_end(s); }

// Reads with async_read_some until an error; that error.
asio::awaitable<void> read_some_until_end(stream s, std::vector<std::byte>& out, error_code& end) {
  std::vector<std::byte> chunk(4096);
  for (;;) {
    auto [e, k] = co_await s.async_read_some(asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
    out.insert(out.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(k));
    if (e) {
      end = e;
      co_return;
    }
  }
}

asio::awaitable<void> write_and_close(stream s, const std::vector<std::byte>& data) {
  co_await asio::async_write(s, asio::buffer(data), asio::use_awaitable);
  co_await s.close();
}

// Reads to the end like read_to_end, calling `midway` once a quarter of `expected` is in.
asio::awaitable<void> read_with_event(stream s, std::vector<std::byte>& out, std::size_t expected,
                                      std::function<void()> midway) {
  std::vector<std::byte> chunk(16 * 1024);
  bool fired = false;
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
    out.insert(out.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
    if (!fired && out.size() >= expected / 4) {
      fired = true;
      midway();
    }
    if (ec == asio::error::eof) co_return;
    if (ec) throw system_error(ec, "reading the stream");
  }
}

// alice sends `data` to bob on a stream while `midway` changes the network under them.
std::vector<std::byte> transfer_across(sim_world& w, session& alice, session& bob, const std::vector<std::byte>& data,
                                       std::function<void()> midway) {
  std::vector<std::byte> got;
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    auto both = co_await (alice.connect("bob") && bob.accept());
    connection ca = std::get<0>(both), cb = std::get<1>(both);
    auto streams = co_await (ca.open_stream() && cb.accept_stream());
    co_await all_of(tasks(write_and_close(std::get<0>(streams), data),
                          read_with_event(std::get<1>(streams), got, data.size(), midway)));
  }(), 120s);
  return got;
}

}  // namespace

// 10 MiB each way at once through NATs, 5% of the SCTP frames lost and 5% sent twice on each
// side, jitter that reorders them: both copies arrive byte for byte (SHA-256 equal), and no
// SCTP packet is larger than stream_packet_size (its frame: 29 bytes more).
BOOST_AUTO_TEST_CASE(ten_mebibytes_each_way_arrive_intact_through_loss_reordering_and_duplication) {
  sim_world w(41, sim::link{2ms, 6ms, 0.0});
  auto& alice_host = w.add_peer_host("alice", "port-restricted-cone");
  auto& bob_host = w.add_peer_host("bob", "full-cone");
  bad_path alice_path{std::mt19937_64(7), 0.05, 0.05}, bob_path{std::mt19937_64(8), 0.05, 0.05};
  tap_transport alice_tap(alice_host.transport(), std::ref(alice_path));
  tap_transport bob_tap(bob_host.transport(), std::ref(bob_path));
  session alice(alice_tap, on_clock(w, "alice"));
  session bob(bob_tap, on_clock(w, "bob"));
  const auto to_bob = random_bytes(10 << 20, 1), to_alice = random_bytes(10 << 20, 2);
  std::vector<std::byte> bob_got, alice_got;
  const auto took = w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
    auto streams = co_await (ca.open_stream() && cb.accept_stream());
    stream sa = std::get<0>(streams), sb = std::get<1>(streams);
    co_await all_of(tasks(write_and_close(sa, to_bob), write_and_close(sb, to_alice), read_into(sb, bob_got),
                          read_into(sa, alice_got)));
  }(), 600s);
  BOOST_TEST_MESSAGE("20 MiB in " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                                  << " ms of virtual time; frames lost " << alice_path.lost + bob_path.lost
                                  << ", doubled " << alice_path.doubled + bob_path.doubled);
  BOOST_CHECK_EQUAL(bob_got.size(), to_bob.size());
  BOOST_CHECK_EQUAL(alice_got.size(), to_alice.size());
  BOOST_CHECK(sha256(bob_got) == sha256(to_bob));
  BOOST_CHECK(sha256(alice_got) == sha256(to_alice));
  // The loss and the duplication took place: SCTP repaired them.
  BOOST_CHECK_GT(alice_path.lost, 100u);
  BOOST_CHECK_GT(bob_path.doubled, 100u);
  BOOST_CHECK_LE(std::max(alice_path.largest, bob_path.largest), wire::frame_overhead + 1200);
  BOOST_CHECK_GT(alice_path.largest, wire::frame_overhead + 1000);  // full packets were sent
}

// 24 streams at once, opened from both sides, each carrying its own bytes: each arrives on
// the stream it was written to, complete.
BOOST_AUTO_TEST_CASE(many_streams_at_once_each_carry_their_own_bytes) {
  sim_world w(42, sim::link{2ms, 3ms, 0.0});
  auto& alice = w.add_session(w.add_peer_host("alice", "full-cone"), "alice");
  auto& bob = w.add_session(w.add_peer_host("bob", "restricted-cone"), "bob");
  constexpr int each = 12;
  std::vector<std::pair<std::uint16_t, std::vector<std::byte>>> alice_heard, bob_heard;
  std::vector<std::uint16_t> alice_ids, bob_ids;
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    auto both = co_await (alice.connect("bob") && bob.accept());
    connection ca = std::get<0>(both), cb = std::get<1>(both);
    // Every stream of one side: opened, written with bytes seeded by its id, closed.
    auto opener = [](connection c, std::vector<std::uint16_t>& ids) -> asio::awaitable<void> {
      std::vector<asio::awaitable<void>> writes;
      std::vector<stream> kept;
      for (int i = 0; i < each; ++i) {
        kept.push_back(co_await c.open_stream());
        ids.push_back(kept.back().id());
      }
      for (auto& s : kept)
        writes.push_back([](stream s) -> asio::awaitable<void> {
          co_await write_and_close(s, random_bytes(50'000 + s.id() * 1000, s.id()));
        }(s));
      co_await all_of(std::move(writes));
    };
    auto acceptor = [](connection c, auto& heard) -> asio::awaitable<void> {
      std::vector<asio::awaitable<void>> reads;
      for (int i = 0; i < each; ++i)
        reads.push_back([](stream s, auto& heard) -> asio::awaitable<void> {
          auto got = co_await read_to_end(s);
          heard.emplace_back(s.id(), std::move(got));
        }(co_await c.accept_stream(), heard));
      co_await all_of(std::move(reads));
    };
    co_await all_of(tasks(opener(ca, alice_ids), opener(cb, bob_ids), acceptor(ca, alice_heard), acceptor(cb, bob_heard)));
  }(), 120s);
  BOOST_REQUIRE_EQUAL(alice_heard.size(), std::size_t{each});
  BOOST_REQUIRE_EQUAL(bob_heard.size(), std::size_t{each});
  for (auto id : alice_ids) BOOST_CHECK_EQUAL(id % 2, 0);  // the connecting side's ids are even
  for (auto id : bob_ids) BOOST_CHECK_EQUAL(id % 2, 1);
  for (auto* heard : {&alice_heard, &bob_heard})
    for (auto& [id, bytes] : *heard) BOOST_CHECK(bytes == random_bytes(50'000 + id * 1000, id));
}

// A stream's close: the peer reads every byte and then eof; writing after it is an error.
// A connection's close: the other side's streams read what was written, then eof (not an
// exception); its accept_stream ends too.
BOOST_AUTO_TEST_CASE(closing_a_stream_or_its_connection_gives_the_peer_eof_after_every_byte) {
  sim_world w(43);
  auto& alice = w.add_session(w.add_peer_host("alice", "none"), "alice");
  auto& bob = w.add_session(w.add_peer_host("bob", "full-cone"), "bob");
  std::vector<std::byte> first, second;
  error_code write_after_close, second_end, accept_end;
  const auto payload = random_bytes(300'000, 3);
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
    auto one = co_await (ca.open_stream() && cb.accept_stream());
    stream s1 = std::get<0>(one), r1 = std::get<1>(one);
    co_await all_of(tasks(write_and_close(s1, payload), read_into(r1, first)));
    auto [ec, n] = co_await asio::async_write(s1, asio::buffer(payload), asio::as_tuple(asio::use_awaitable));
    write_after_close = ec;
    // The connection's close: bob's second stream gets all of it, then eof.
    auto two = co_await (ca.open_stream() && cb.accept_stream());
    stream s2 = std::get<0>(two), r2 = std::get<1>(two);
    co_await asio::async_write(s2, asio::buffer(payload), asio::use_awaitable);
    co_await (ca.close() && read_some_until_end(r2, second, second_end));
    auto [ae, none] = co_await cb.accept_stream(asio::as_tuple(asio::use_awaitable));
    accept_end = ae;
  }(), 60s);
  BOOST_CHECK(first == payload);
  BOOST_CHECK_EQUAL(write_after_close, make_error_code(errc::stream_closed));
  BOOST_CHECK(second == payload);
  BOOST_CHECK_EQUAL(second_end, error_code(asio::error::eof));
  BOOST_CHECK(accept_end);
}

// A relayed connection moves to a direct path that opens in the middle of a 2 MiB transfer:
// every byte arrives once, in order.
BOOST_AUTO_TEST_CASE(a_transfer_survives_the_move_from_a_relayed_to_a_direct_path) {
  sim_world w(44);
  w.start_relay();
  auto& alice_host = w.add_peer_host("alice", "port-restricted-cone");
  auto& bob = w.add_session(w.add_peer_host("bob", "port-restricted-cone"), "bob", w.with_relay());
  // alice's firewall lets only the broker and the relay through, until it opens.
  bool direct_blocked = true;
  tap_transport tap(alice_host.transport(), firewall(direct_blocked, {w.broker_endpoint(), w.relay_endpoint()}));
  auto o = w.with_relay(on_clock(w, "alice"));
  int changes = 0;  // before the session, which reports to it until it closes
  session alice(tap, o);
  alice.on_event([&](const session_event& e) { changes += e.what == session_event::kind::path_changed; });
  const auto data = random_bytes(2 << 20, 4);
  const auto got = transfer_across(w, alice, bob, data, [&] {
    BOOST_CHECK_EQUAL(changes, 0);  // still relayed when the path opens
    direct_blocked = false;
  });
  BOOST_CHECK_EQUAL(got.size(), data.size());
  BOOST_CHECK(sha256(got) == sha256(data));
  BOOST_CHECK_EQUAL(changes, 1);
  alice.close();
}

// alice's NAT reboots (new ports, bob's port-restricted NAT closed to them) in the middle of
// a 2 MiB transfer; the connection roams to her new mapping and the stream goes on: every
// byte arrives once, in order.
BOOST_AUTO_TEST_CASE(a_transfer_survives_a_roaming_move) {
  int changes = 0;  // before the world: its sessions' close at the end still reports events here
  sim_world w(45);
  auto& alice = w.add_session(w.add_peer_host("alice", "port-restricted-cone"), "alice");
  auto& bob = w.add_session(w.add_peer_host("bob", "port-restricted-cone"), "bob");
  alice.on_event([&](const session_event& e) { changes += e.what == session_event::kind::path_changed; });
  bob.on_event([&](const session_event& e) { changes += e.what == session_event::kind::path_changed; });
  const auto data = random_bytes(2 << 20, 5);
  const auto got = transfer_across(w, alice, bob, data, [&] { w.net.find_nat("nat-alice")->reboot(); });
  BOOST_CHECK_EQUAL(got.size(), data.size());
  BOOST_CHECK(sha256(got) == sha256(data));
  BOOST_CHECK_GE(changes, 1);  // the path did move
}

// What streams cost in memory (glibc's heap in use, both peers in this process): the first
// stream of a connection starts an SCTP association on each side, each further stream costs
// its state on each side. The targets (docs/streams.md, "Numbers") leave room over what was
// measured; a regression past them is a leak or a buffer kept per idle stream.
// mallinfo2() reads glibc's heap, which AddressSanitizer's allocator replaces: under ASan
// there is nothing to read, and the case is reported skipped with this reason.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool glibc_heap = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool glibc_heap = false;
#else
constexpr bool glibc_heap = true;
#endif
#else
constexpr bool glibc_heap = true;
#endif

boost::test_tools::assertion_result glibc_heap_is_measured(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(glibc_heap);
  r.message() << "AddressSanitizer replaces glibc's heap: mallinfo2() measures nothing here";
  return r;
}

BOOST_AUTO_TEST_CASE(an_association_and_an_idle_stream_cost_what_docs_streams_md_says,
                     *boost::unit_test::precondition(glibc_heap_is_measured)) {
  sim_world w(46);
  auto& alice = w.add_session(w.add_peer_host("alice", "full-cone"), "alice");
  auto& bob = w.add_session(w.add_peer_host("bob", "full-cone"), "bob");
  constexpr int idle = 100;
  long long association = 0, per_stream = 0;
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    auto both = co_await (alice.connect("bob") && bob.accept());
    connection ca = std::get<0>(both), cb = std::get<1>(both);
    const auto before = static_cast<long long>(mallinfo2().uordblks);
    std::vector<stream> kept;
    auto first = co_await (ca.open_stream() && cb.accept_stream());
    kept.push_back(std::get<0>(first));
    kept.push_back(std::get<1>(first));
    const auto one = static_cast<long long>(mallinfo2().uordblks);
    for (int i = 0; i < idle; ++i) {
      auto more = co_await (ca.open_stream() && cb.accept_stream());
      kept.push_back(std::get<0>(more));
      kept.push_back(std::get<1>(more));
    }
    const auto all = static_cast<long long>(mallinfo2().uordblks);
    association = (one - before) / 2;
    per_stream = (all - one) / (2 * idle);
  }());
  BOOST_TEST_MESSAGE("per side: association with its first stream " << association << " bytes, each further idle stream "
                                                                   << per_stream << " bytes");
  BOOST_CHECK_GT(association, 0);
  BOOST_CHECK_LT(association, 512 * 1024);
  BOOST_CHECK_LT(per_stream, 4 * 1024);
}

BOOST_AUTO_TEST_SUITE_END()
