// libFuzzer target for the peer session's receive loop: a real punch::session on a fake socket
// (fake_transport.hpp), registered and — when the input asks — in the middle of connect("bob")
// and of accept(), takes fuzzed datagrams from the broker, from bob's two candidates and from
// a stranger. They reach every branch of the demultiplexer: broker answers (pending
// transactions), Introduce requests, punch-check requests and responses, data frames of a
// live connection. Everything the session sends must be a valid STUN message or a data frame.
//
// Input: byte 0: bit 0 connect("bob") (punching with bob's candidates and token T1), bit 1
// accept() (and receive on what it accepts); then records of
//   [flags][length: 2 bytes, big-endian, low 11 bits][datagram]
// flags bits 0-1: the source (broker, bob's host, bob's reflexive, a stranger); bit 2: fix
// the length field; bit 3: fix FINGERPRINT; bit 4: take the transaction id of the last
// request the session sent; bit 5: make it authentic for introduction T1, or T2 when bit 6
// is set too (TOKEN, PUBLIC-KEY, a check's PUNCH-ID, EPHEMERAL-KEY, HANDSHAKE-SIGNATURE and
// MESSAGE-INTEGRITY-SHA256 as bob would send them; a frame's tag, and its seal once alice's
// checks gave bob the key); bit 7: the application sends a datagram on its connection afterwards.
// PUNCH_FUZZ_VERBOSE=1 traces each datagram.
#include "fake_transport.hpp"
#include "fixups.hpp"

#include "punch/connection.hpp"
#include "punch/identity.hpp"
#include "punch/session.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <exception>
#include <optional>

namespace {

namespace asio = boost::asio;
using namespace punch;
using namespace std::chrono_literals;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_session: %s\n", what);
    std::abort();
  }
}

endpoint ep(const char* a, unsigned short port) { return {asio::ip::make_address(a), port}; }

const endpoint broker_ep = ep("192.0.2.1", 3478);
const endpoint bob_host = ep("192.168.1.5", 5000);
const endpoint bob_reflexive = ep("203.0.113.5", 6000);
const endpoint stranger = ep("198.51.100.99", 7000);
const endpoint alice_local = ep("10.0.0.2", 4000);
const endpoint alice_reflexive = ep("198.51.100.20", 4000);

wire::token fixed_token(std::uint8_t seed) {
  wire::token t;
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = std::byte(seed + i);
  return t;
}
const wire::token t1 = fixed_token(0x10), t2 = fixed_token(0x20);

// Bob: a fixed identity and ephemeral key, so that fixed-up checks verify and frames open.
struct bob_keys {
  identity id = identity::from_seed(std::span<const std::byte, 32>(seed(0x42)));
  std::array<std::byte, 32> eph_pk{}, eph_sk{};
  bob_keys() {
    const auto s = seed(0x43);
    crypto_kx_seed_keypair(reinterpret_cast<unsigned char*>(eph_pk.data()), reinterpret_cast<unsigned char*>(eph_sk.data()),
                           reinterpret_cast<const unsigned char*>(s.data()));
  }
  static std::array<std::byte, 32> seed(std::uint8_t v) {
    std::array<std::byte, 32> s;
    s.fill(std::byte{v});
    return s;
  }
};
const bob_keys& bob() {
  static const bob_keys k;
  return k;
}

// Bob controls the introduction T2 (he connected to alice); alice controls T1.
fuzz::check_signer signer_for(const wire::token& t, bool bob_controls) {
  fuzz::check_signer s;
  s.token = t;
  s.controlling = bob_controls;
  s.public_key = bob().id.key();
  s.ephemeral_public = bob().eph_pk;
  s.sign = [](std::span<const std::byte> message, std::span<std::byte> out) {
    const auto sig = bob().id.sign(message);
    std::copy(sig.begin(), sig.end(), out.begin());
  };
  return s;
}

// The key bob seals frames with on the connection of introduction `t`: crypto_kx between
// bob's ephemeral key and the one alice sent in her checks (bob is the server when alice
// connected, the client when she accepted). nullopt until alice has sent a check for `t`.
std::optional<std::array<std::byte, 32>> bob_tx_key(const fuzz::wire_log& log, const wire::token& t, bool alice_controls) {
  const auto id = wire::derive_keys(t).punch_id;
  for (auto it = log.sent.rbegin(); it != log.sent.rend(); ++it) {
    error_code ec;
    const auto m = stun::message::parse(it->bytes, ec);
    if (!m) continue;
    auto pid = m->find(wire::attr::punch_id);
    auto eph = m->find(wire::attr::ephemeral_key);
    if (!pid || !eph || eph->value.size() != 32 || !std::equal(id.begin(), id.end(), pid->value.begin(), pid->value.end()))
      continue;
    std::array<unsigned char, 32> rx, tx;
    const auto* pk = reinterpret_cast<const unsigned char*>(bob().eph_pk.data());
    const auto* sk = reinterpret_cast<const unsigned char*>(bob().eph_sk.data());
    const auto* peer = reinterpret_cast<const unsigned char*>(eph->value.data());
    const int rc = alice_controls ? crypto_kx_server_session_keys(rx.data(), tx.data(), pk, sk, peer)
                                  : crypto_kx_client_session_keys(rx.data(), tx.data(), pk, sk, peer);
    if (rc != 0) return std::nullopt;
    std::array<std::byte, 32> key;
    std::memcpy(key.data(), tx.data(), key.size());
    return key;
  }
  return std::nullopt;
}

// A coroutine's end: punch's own errors are expected outcomes of fuzzed input; anything else
// escapes poll() and crashes the run.
void ended(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const boost::system::system_error&) {
  }
}

// The broker's success answer to the session's last request, as the real broker builds it.
std::vector<std::byte> answer_last_request(const fuzz::wire_log& log, std::uint16_t method) {
  expect(!log.sent.empty(), "the session sent no request");
  error_code ec;
  const auto req = stun::message::parse(log.sent.back().bytes, ec);
  expect(req && req->method() == method, "the session's request is not the expected one");
  std::array<std::byte, stun::max_message_size> buf;
  stun::builder b(buf, stun::message_class::success_response, method, req->id());
  if (method == wire::method::register_peer) {
    b.add_xor_address(stun::attr::xor_mapped_address, alice_reflexive);
    b.add_u32(wire::attr::lifetime, 60);
  } else {
    b.add_string(wire::attr::peer_id, "bob");
    b.add(wire::attr::public_key, bob().id.key());
    b.add_xor_address(wire::attr::reflexive_candidate, bob_reflexive);
    b.add_xor_address(wire::attr::host_candidate, bob_host);
    b.add(wire::attr::token, t1);
    b.add_xor_address(stun::attr::xor_mapped_address, alice_reflexive);
  }
  const auto out = b.finish_with_fingerprint();
  return {out.begin(), out.end()};
}

// Everything a session sends is STUN or a data frame; returns the last request's id, if any.
void check_sent(const fuzz::wire_log& log, std::size_t from, std::optional<stun::transaction_id>& last_request) {
  for (std::size_t i = from; i < log.sent.size(); ++i) {
    const std::span<const std::byte> d(log.sent[i].bytes);
    if (wire::looks_like_frame(d)) continue;
    error_code ec;
    const auto m = stun::message::parse(d, ec);
    expect(m.has_value(), "the session sent a datagram that is neither STUN nor a frame");
    if (m->cls() == stun::message_class::request) last_request = m->id();
  }
}

void poll(asio::io_context& ctx) {
  ctx.restart();
  ctx.poll();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (sodium_init() < 0) std::abort();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input_reader in({reinterpret_cast<const std::byte*>(data), size});
  const std::uint8_t mode = in.u8();

  asio::io_context ctx;
  fuzz::fake_transport net(ctx.get_executor());
  session_options o;
  o.broker = broker_ep;
  o.id = "alice";
  o.local = alice_local;
  o.host_candidates = {alice_local};
  std::optional<session> s(std::in_place, net, o);
  // PUNCH_FUZZ_VERBOSE=1: the session's events, for reading a reproducer.
  static const bool verbose = std::getenv("PUNCH_FUZZ_VERBOSE") != nullptr;
  if (verbose)
    s->on_event([](const session_event& e) {
      std::fprintf(stderr, "event %d peer %s error %s\n", static_cast<int>(e.what), e.peer.c_str(), e.error.message().c_str());
    });
  auto& log = *net.last;
  std::optional<stun::transaction_id> last_request;
  std::optional<connection> conn;  // the connection the application holds, once it has one

  // Registered, as after a real exchange with the broker.
  asio::co_spawn(ctx, s->register_self(), [](std::exception_ptr e, registration_info) { ended(e); });
  poll(ctx);
  log.deliver(answer_last_request(log, wire::method::register_peer), broker_ep);
  poll(ctx);

  auto use = [&](connection c) -> asio::awaitable<void> {
    conn = c;
    std::array<std::byte, 64> buf;  // smaller than a frame may be: receive() truncates
    for (int i = 0; i < 1000; ++i) co_await c.receive(asio::buffer(buf));
  };
  if (mode & 1) {
    asio::co_spawn(ctx, [&]() -> asio::awaitable<void> { co_await use(co_await s->connect("bob")); }, ended);
    poll(ctx);
    log.deliver(answer_last_request(log, wire::method::connect), broker_ep);
    poll(ctx);
  }
  if (mode & 2) asio::co_spawn(ctx, [&]() -> asio::awaitable<void> { co_await use(co_await s->accept()); }, ended);
  poll(ctx);
  check_sent(log, 0, last_request);

  const std::array<endpoint, 4> sources{broker_ep, bob_host, bob_reflexive, stranger};
  std::vector<std::byte> datagram;
  const std::array<std::byte, 3> payload{std::byte{1}, std::byte{2}, std::byte{3}};
  for (int records = 0; !in.empty() && records < 64; ++records) {
    const std::uint8_t flags = in.u8();
    const std::size_t length = in.u16() & 0x7FF;
    const auto bytes = in.bytes(length);
    datagram.assign(bytes.begin(), bytes.end());
    if (flags & 4) fuzz::fix_length(datagram);
    if ((flags & 16) && last_request) fuzz::set_transaction_id(datagram, *last_request);
    if (flags & 32) {
      // T1 is alice's connect (she controls), T2 an introduction the input sends her.
      const bool second = flags & 64;
      const auto& token = second ? t2 : t1;
      if (!datagram.empty() && (datagram[0] & std::byte{0xF0}) == wire::frame_marker) {
        const auto key = bob_tx_key(log, token, !second);
        fuzz::seal_frame(datagram, token, key ? &*key : nullptr);
      } else {
        fuzz::authenticate(datagram, signer_for(token, second));
      }
    }
    if (flags & 8) fuzz::fix_fingerprint(datagram);

    const std::size_t sent_before = log.sent.size();
    log.deliver(datagram, sources[flags & 3]);
    poll(ctx);
    if ((flags & 128) && conn && conn->is_open()) {
      asio::co_spawn(ctx, conn->send(asio::buffer(payload)), ended);
      poll(ctx);
    }
    check_sent(log, sent_before, last_request);
    if (verbose) {
      std::fprintf(stderr, "datagram %d: %zu bytes from source %d; the session sent %zu, connection %s\n", records,
                   datagram.size(), flags & 3, log.sent.size() - sent_before,
                   conn ? (conn->is_open() ? "open" : "closed") : "none");
    }
  }

  s->close();
  poll(ctx);
  conn.reset();
  s.reset();
  poll(ctx);
  return 0;
}
