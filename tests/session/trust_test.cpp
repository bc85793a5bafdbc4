// Trust on the simulated network (issue 7): peers prove their identity keys, a pinned key
// is enforced, an attacker on the path cannot alter or replay checks or data, and a broker
// that lies about where a peer is cannot complete the handshake. docs/security.md names
// these tests.
#include "session_test_support.hpp"
#include "sim_world.hpp"
#include "tap_transport.hpp"

#include "punch/wire/protocol.hpp"
#include "punch/wire/stun.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sodium.h>

#include <array>
#include <cstring>
#include <map>
#include <string_view>

BOOST_AUTO_TEST_SUITE(trust_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace punch;
using namespace punch::test;
using namespace boost::asio::experimental::awaitable_operators;
namespace asio = boost::asio;

namespace {

// A check: a Binding request naming an introduction.
bool is_check(const std::vector<std::byte>& d) {
  error_code ec;
  auto m = stun::message::parse(d, ec);
  return m && m->cls() == stun::message_class::request && m->method() == wire::method::binding &&
         m->find(wire::attr::punch_id);
}

bool is_data_frame(const std::vector<std::byte>& d) {
  return wire::looks_like_frame(d) && wire::frame_kind_of(d) == wire::frame_kind::data;
}

// Flips one bit of the ICE role attribute's value and mends FINGERPRINT, so that only the
// integrity check can notice.
void alter_check(std::vector<std::byte>& d) {
  error_code ec;
  auto m = stun::message::parse(d, ec);
  BOOST_REQUIRE(m);
  auto role = m->find(wire::attr::ice_controlling);
  if (!role) role = m->find(wire::attr::ice_controlled);
  BOOST_REQUIRE(role);
  const auto at = static_cast<std::size_t>(role->value.data() - d.data());
  d[at] ^= std::byte{0x01};
  const std::uint32_t fp = stun::fingerprint_of(std::span<const std::byte>(d).first(d.size() - 8));
  for (int i = 0; i < 4; ++i) d[d.size() - 4 + i] = std::byte(fp >> (24 - 8 * i));
  BOOST_REQUIRE(stun::message::parse(d, ec));
}

// A tap on alice's socket with switches for each kind of meddling.
struct path_attacker {
  endpoint victim;            // only datagrams to here are touched
  int alter_checks = 0;       // alter this many checks
  bool replay_checks = false; // send every check twice
  bool tamper_data = false;   // flip a bit in the next data frame's ciphertext
  bool replay_data = false;   // send every data frame twice
  int altered = 0;

  int operator()(std::vector<std::byte>& d, const endpoint& to) {
    if (to != victim) return 1;
    if (is_check(d)) {
      if (altered < alter_checks) {
        alter_check(d);
        ++altered;
      }
      return replay_checks ? 2 : 1;
    }
    if (is_data_frame(d)) {
      if (tamper_data) {
        d[wire::frame_header_size] ^= std::byte{0x80};
        tamper_data = false;
      }
      return replay_data ? 2 : 1;
    }
    return 1;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(trust_on_simulated_network)

BOOST_AUTO_TEST_CASE(each_side_learns_the_key_the_other_proved_and_a_pinned_key_is_enforced) {
  sim_world w;
  auto alice_key = identity::generate();
  auto bob_key = identity::generate();
  auto o = quick();
  o.key = alice_key;
  auto& alice = w.add_session(w.add_peer_host("alice", "port-restricted-cone"), "alice", o);
  o.key = bob_key;
  auto& bob = w.add_session(w.add_peer_host("bob", "full-cone"), "bob", o);
  BOOST_CHECK(alice.key() == alice_key.key());
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    auto [ca, cb] = co_await (alice.connect("bob", connect_options{.timeout = {}, .expected_key = bob_key.key()}) &&
                              bob.accept());
    BOOST_CHECK(ca.peer_key() == bob_key.key());
    BOOST_CHECK(cb.peer_key() == alice_key.key());
    co_await send_text(ca, "pinned");
    BOOST_CHECK_EQUAL(co_await receive_text(cb), "pinned");

    // The broker reports bob's key; alice expects another: refused before any punching.
    const auto stranger = identity::generate().key();
    error_code ec;
    std::string what;
    try {
      co_await alice.connect("bob", connect_options{.timeout = {}, .expected_key = stranger});
    } catch (const system_error& e) {
      ec = e.code();
      what = e.what();
    }
    BOOST_CHECK_EQUAL(ec, make_error_code(errc::key_mismatch));
    BOOST_CHECK_MESSAGE(what.find(to_string(stranger)) != std::string::npos, what);
  }());
}

BOOST_AUTO_TEST_CASE(a_second_key_cannot_take_a_live_id) {
  sim_world w;
  auto& first = w.add_session(w.add_peer_host("first", "full-cone"), "carol", quick());
  auto& second = w.add_session(w.add_peer_host("second", "full-cone"), "carol", quick());
  w.run([&]() -> asio::awaitable<void> {
    co_await first.register_self();
    error_code ec;
    try {
      co_await second.register_self();
    } catch (const system_error& e) {
      ec = e.code();
    }
    BOOST_CHECK_EQUAL(ec, make_error_code(errc::id_taken));
  }());
}

BOOST_AUTO_TEST_CASE(an_altered_check_is_dropped_and_counted_and_punching_goes_on) {
  sim_world w;
  auto& alice_host = w.add_peer_host("alice", "port-restricted-cone");
  auto& bob = w.add_session(w.add_peer_host("bob", "full-cone"), "bob", quick());
  path_attacker attacker;
  attacker.alter_checks = 2;
  tap_transport tap(alice_host.transport(), std::ref(attacker));
  auto o = quick();
  o.broker = w.broker_endpoint();
  o.id = "alice";
  o.clock = &w.net.clock();
  session alice(tap, o);
  w.run([&]() -> asio::awaitable<void> {
    auto [ra, rb] = co_await (alice.register_self() && bob.register_self());
    (void)ra;
    attacker.victim = rb.reflexive;
    auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
    co_await send_text(ca, "after two altered checks");
    BOOST_CHECK_EQUAL(co_await receive_text(cb), "after two altered checks");
  }());
  BOOST_CHECK_EQUAL(attacker.altered, 2);
  BOOST_CHECK_EQUAL(bob.stats().checks_rejected, 2u);
  alice.close();
}

BOOST_AUTO_TEST_CASE(a_replayed_check_is_dropped_and_counted) {
  sim_world w;
  auto& alice_host = w.add_peer_host("alice", "port-restricted-cone");
  auto& bob = w.add_session(w.add_peer_host("bob", "full-cone"), "bob", quick());
  path_attacker attacker;
  attacker.replay_checks = true;
  tap_transport tap(alice_host.transport(), std::ref(attacker));
  auto o = quick();
  o.broker = w.broker_endpoint();
  o.id = "alice";
  o.clock = &w.net.clock();
  session alice(tap, o);
  w.run([&]() -> asio::awaitable<void> {
    auto [ra, rb] = co_await (alice.register_self() && bob.register_self());
    (void)ra;
    attacker.victim = rb.reflexive;
    auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
    co_await send_text(ca, "despite replays");
    BOOST_CHECK_EQUAL(co_await receive_text(cb), "despite replays");
  }());
  BOOST_CHECK_GE(bob.stats().checks_replayed, 1u);
  BOOST_CHECK_EQUAL(bob.stats().checks_rejected, 0u);
  alice.close();
}

BOOST_AUTO_TEST_CASE(a_tampered_or_replayed_datagram_is_rejected_and_counted) {
  sim_world w;
  auto& alice_host = w.add_peer_host("alice", "port-restricted-cone");
  auto& bob = w.add_session(w.add_peer_host("bob", "full-cone"), "bob", quick());
  path_attacker attacker;
  tap_transport tap(alice_host.transport(), std::ref(attacker));
  auto o = quick();
  o.broker = w.broker_endpoint();
  o.id = "alice";
  o.clock = &w.net.clock();
  session alice(tap, o);
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
    attacker.victim = ca.remote_endpoint();

    attacker.tamper_data = true;
    co_await send_text(ca, "tampered");
    co_await send_text(ca, "intact");
    BOOST_CHECK_EQUAL(co_await receive_text(cb), "intact");
    BOOST_CHECK_EQUAL(bob.stats().frames_rejected, 1u);

    attacker.replay_data = true;
    co_await send_text(ca, "once");
    co_await send_text(ca, "twice");
    BOOST_CHECK_EQUAL(co_await receive_text(cb), "once");
    BOOST_CHECK_EQUAL(co_await receive_text(cb), "twice");  // not "once" again
    // A last datagram, sent once, arrives after both copies of "twice" (one link, no jitter).
    attacker.replay_data = false;
    co_await send_text(ca, "last");
    BOOST_CHECK_EQUAL(co_await receive_text(cb), "last");
    BOOST_CHECK_EQUAL(bob.stats().frames_replayed, 2u);
  }());
  alice.close();
}

BOOST_AUTO_TEST_CASE(both_ciphers_carry_data_and_reject_tampering_and_both_sides_agree_on_one) {
  const bool aes_here = crypto_aead_aes256gcm_is_available() != 0;
  for (const bool alice_allows_aes : {true, false}) {
    BOOST_TEST_CONTEXT("alice allows AES-256-GCM: " << alice_allows_aes) {
      sim_world w;
      auto& alice_host = w.add_peer_host("alice", "port-restricted-cone");
      auto& bob = w.add_session(w.add_peer_host("bob", "full-cone"), "bob", quick());
      path_attacker attacker;
      tap_transport tap(alice_host.transport(), std::ref(attacker));
      auto o = quick();
      o.broker = w.broker_endpoint();
      o.id = "alice";
      o.allow_aes_gcm = alice_allows_aes;
      o.clock = &w.net.clock();
      session alice(tap, o);
      w.run([&]() -> asio::awaitable<void> {
        co_await (alice.register_self() && bob.register_self());
        auto [ca, cb] = co_await (alice.connect("bob") && bob.accept());
        const std::string expected = alice_allows_aes && aes_here ? "aes-256-gcm" : "xchacha20-poly1305";
        BOOST_CHECK_EQUAL(std::string(ca.cipher()), expected);
        BOOST_CHECK_EQUAL(std::string(cb.cipher()), expected);
        attacker.victim = ca.remote_endpoint();
        attacker.tamper_data = true;
        co_await send_text(ca, "tampered");
        co_await send_text(ca, "intact");
        BOOST_CHECK_EQUAL(co_await receive_text(cb), "intact");
        co_await send_text(cb, "back");
        BOOST_CHECK_EQUAL(co_await receive_text(ca), "back");
      }());
      BOOST_CHECK_EQUAL(bob.stats().frames_rejected, 1u);
      alice.close();
    }
  }
}

// A broker that lies: it answers alice's Connect to "bob" with bob's real key but mallory's
// address, and introduces alice to mallory. Mallory holds a key of its own, not bob's.
namespace {
struct lying_broker {
  datagram_socket socket;
  public_key bob_key{};
  std::map<std::string, std::pair<endpoint, public_key>, std::less<>> peers;
  std::array<std::byte, stun::max_message_size> in{}, out{};

  void send(std::span<const std::byte> m, const endpoint& to) {
    auto copy = std::make_shared<std::vector<std::byte>>(m.begin(), m.end());
    socket.async_send_to(asio::buffer(*copy), to, [copy](error_code, std::size_t) {});
  }

  asio::awaitable<void> run() {
    endpoint from;
    for (;;) {
      auto [ec, n] = co_await socket.async_receive_from(asio::buffer(in), from, asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      auto m = stun::message::parse(std::span<const std::byte>(in).first(n), ec);
      if (!m || m->cls() != stun::message_class::request) continue;
      stun::builder b(out, stun::message_class::success_response, m->method(), m->id());
      if (m->method() == wire::method::register_peer) {
        auto id = m->find(wire::attr::peer_id);
        auto key = m->find(wire::attr::public_key);
        if (!id || !key || key->value.size() != public_key_size) continue;
        public_key k;
        std::memcpy(k.data(), key->value.data(), k.size());
        peers[std::string(stun::decode_string(*id))] = {from, k};
        const std::array<std::byte, wire::nonce_size> nonce{};
        b.add_xor_address(stun::attr::xor_mapped_address, from);
        b.add_u32(wire::attr::lifetime, 60);
        b.add(wire::attr::nonce, nonce);
        send(b.finish_with_fingerprint(), from);
      } else if (m->method() == wire::method::connect) {
        auto me = m->find(wire::attr::peer_id);
        if (!me || !peers.contains("mallory")) continue;
        const auto [requester_ep, requester_key] = peers.at(std::string(stun::decode_string(*me)));
        const auto mallory = peers.at("mallory").first;
        wire::token token{};
        token[0] = std::byte{7};
        b.add_string(wire::attr::peer_id, "bob");
        b.add(wire::attr::public_key, bob_key);
        b.add_xor_address(wire::attr::reflexive_candidate, mallory);
        b.add(wire::attr::token, token);
        b.add_xor_address(stun::attr::xor_mapped_address, from);
        send(b.finish_with_fingerprint(), from);
        std::array<std::byte, stun::max_message_size> intro_buf;
        stun::builder intro(intro_buf, stun::message_class::request, wire::method::introduce, m->id());
        intro.add_string(wire::attr::peer_id, stun::decode_string(*me));
        intro.add(wire::attr::public_key, requester_key);
        intro.add_xor_address(wire::attr::reflexive_candidate, requester_ep);
        intro.add(wire::attr::token, token);
        send(intro.finish_with_fingerprint(), mallory);
      }
    }
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(a_broker_that_swaps_candidates_cannot_complete_the_handshake) {
  sim_world w;
  auto& evil_host = w.net.add_host("evil-broker", w.net.internet(), addr("203.0.113.66"), w.link);
  lying_broker evil;
  evil.socket = evil_host.transport().open({{}, 3478});
  evil.bob_key = identity::generate().key();  // the real bob's key; bob is not even online
  asio::co_spawn(w.ctx, evil.run(), asio::detached);
  auto o = quick();
  o.broker = {addr("203.0.113.66"), 3478};
  o.id = "alice";
  o.clock = &w.net.clock();
  session alice(w.add_peer_host("alice", "full-cone").transport(), o);
  o.id = "mallory";
  session mallory(w.add_peer_host("mallory", "full-cone").transport(), o);
  error_code alice_failure;
  bool mallory_connected = false;
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && mallory.register_self());
    auto connect = [&]() -> asio::awaitable<void> {
      try {
        co_await alice.connect("bob");
      } catch (const system_error& e) {
        alice_failure = e.code();
      }
    };
    auto accept = [&]() -> asio::awaitable<void> {
      punch::timer t(co_await asio::this_coro::executor, punch::test::world_clock(), 3s);
      auto r = co_await (mallory.accept() || t.async_wait(asio::use_awaitable));
      mallory_connected = r.index() == 0;
    };
    co_await (connect() && accept());
  }());
  BOOST_CHECK_EQUAL(alice_failure, make_error_code(errc::punch_timeout));
  BOOST_CHECK(!mallory_connected);
  // Mallory's checks and answers reached alice and failed bob's key.
  BOOST_CHECK_GE(alice.stats().checks_rejected, 1u);
  alice.close();
  mallory.close();
  evil.socket.close();
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()  // trust_test
