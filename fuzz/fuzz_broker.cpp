// libFuzzer target for the broker: a real punch::broker serves a fake socket (fake_transport.hpp)
// and each input is a sequence of datagrams from a handful of sources, so that Register,
// Lookup, Connect and Introduce answers meet each other's state. After every datagram the
// fuzzer checks what the broker sent: at most one answer, to the source, echoing the
// transaction id, a valid STUN message when the request was, and never larger than
// max(request, 64 bytes) (docs/protocol.md, "Amplification"); anything else it sends must be
// an Introduce request.
//
// Input: byte 0 bit 0 picks an IPv6 (dual-stack) broker socket; then records of
//   [flags][length: 2 bytes, big-endian, low 11 bits][datagram]
// flags bits 0-1: the source (4 fixed endpoints); bit 2: fix the length field; bit 3: fix
// FINGERPRINT; bit 4: take the transaction id of the last Introduce the broker sent; bit 5:
// sign as a peer would (a 20-byte NONCE gets the last NONCE the broker sent to this source,
// a 20-byte REFRESH-CREDENTIAL the last credential it sent there, a 32-byte PUBLIC-KEY the
// fuzzer's key, and a 64-byte SIGNATURE that key's signature); bit 6: with the second of the
// fuzzer's two keys (the id binding: 403).
#include "fake_transport.hpp"
#include "fixups.hpp"

#include "punch/broker.hpp"
#include "punch/identity.hpp"
#include "punch/registry.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <sodium.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <exception>

namespace {

namespace asio = boost::asio;
using namespace punch;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_broker: %s\n", what);
    std::abort();
  }
}

constexpr std::size_t response_floor = 64;

endpoint v4(const char* a, unsigned short port) { return {asio::ip::make_address(a), port}; }

// Sources as the socket reports them: IPv4 peers of a dual-stack socket arrive mapped.
std::array<endpoint, 4> sources(bool v6) {
  if (!v6) return {v4("198.51.100.1", 1000), v4("198.51.100.2", 2000), v4("203.0.113.3", 3000), v4("198.51.100.1", 1001)};
  return {v4("::ffff:198.51.100.1", 1000), v4("::ffff:198.51.100.2", 2000), v4("2001:db8::3", 3000),
          v4("2001:db8::3", 3001)};
}

// The fuzzer's identities (bit 6 picks one): the same seeds as fuzz/seeds.cpp's.
const punch::identity& key_of(bool second) {
  static const punch::identity keys[] = {punch::identity::from_seed(std::array<std::byte, 32>{}),
                                         punch::identity::from_seed(std::array<std::byte, 32>{std::byte{1}})};
  return keys[second ? 1 : 0];
}

// Makes a Register say what a peer holding `key` says over `nonce` (empty: keeps its own):
// NONCE, REFRESH-CREDENTIAL (with `credential`, if not empty) and PUBLIC-KEY values replaced,
// the first SIGNATURE recomputed over the bytes before it with the header's length ending at
// it (stun::message::covered_by). Walks the raw attributes: the datagram need not parse.
void sign(std::vector<std::byte>& d, std::span<const std::byte> nonce, std::span<const std::byte> credential,
          const punch::identity& key) {
  std::size_t at = stun::header_size;
  while (at + 4 <= d.size()) {
    const std::uint16_t type = fuzz::read_u16(d, at), len = fuzz::read_u16(d, at + 2);
    if (at + 4 + len > d.size()) return;
    auto value = d.begin() + static_cast<std::ptrdiff_t>(at + 4);
    if (type == wire::attr::nonce && len == wire::nonce_size && nonce.size() == wire::nonce_size)
      std::copy(nonce.begin(), nonce.end(), value);
    if (type == wire::attr::refresh_credential && len == wire::refresh_credential_size &&
        credential.size() == wire::refresh_credential_size)
      std::copy(credential.begin(), credential.end(), value);
    if (type == wire::attr::public_key && len == punch::public_key_size)
      std::copy(key.key().begin(), key.key().end(), value);
    if (type == wire::attr::signature && len == punch::signature_size) {
      std::vector<std::byte> covered(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(at));
      const std::size_t length = at + 4 + punch::signature_size - stun::header_size;
      covered[2] = std::byte(length >> 8);
      covered[3] = std::byte(length & 0xFF);
      const auto sig = key.sign(covered);
      std::copy(sig.begin(), sig.end(), value);
      return;
    }
    at += 4 + ((len + 3u) & ~3u);
  }
}

struct checker {
  stun::transaction_id last_introduce{};
  bool have_introduce = false;
  std::array<std::vector<std::byte>, 4> nonces;  // the last NONCE sent to each source
  std::array<std::vector<std::byte>, 4> credentials;  // the last REFRESH-CREDENTIAL, likewise

  // What the broker sent while handling `request` from `from` (source number `source`).
  void check(std::span<const std::byte> request, const endpoint& from, int source,
             std::span<const fuzz::datagram> sent) {
    std::size_t answers = 0;
    for (const auto& d : sent) {
      const std::span<const std::byte> out(d.bytes);
      expect(out.size() >= stun::header_size, "the broker sent less than a STUN header");
      const auto cls = fuzz::class_of(out);
      error_code ec;
      if (cls == stun::message_class::request) {
        // An Introduce to the target of a Connect: well formed, with a token.
        const auto m = stun::message::parse(out, ec);
        expect(m && m->method() == wire::method::introduce && m->has_fingerprint(),
               "the broker sent a request that is not a valid Introduce");
        const auto t = m->find(wire::attr::token);
        expect(t && t->value.size() == wire::token_size, "an Introduce without a 16-byte TOKEN");
        last_introduce = m->id();
        have_introduce = true;
        continue;
      }
      expect(cls == stun::message_class::success_response || cls == stun::message_class::error_response,
             "the broker sent an indication");
      ++answers;
      expect(d.peer == from, "an answer went somewhere other than the request's source");
      expect(out.size() <= std::max(request.size(), response_floor),
             "amplification: the answer is larger than max(request, 64 bytes)");
      // The transaction id, and the cookie field (echoed as is to RFC 3489 clients).
      expect(request.size() >= stun::header_size &&
                 std::equal(out.begin() + 4, out.begin() + 20, request.begin() + 4),
             "the answer does not echo the request's transaction id");
      if (stun::looks_like_stun(request)) {
        const auto m = stun::message::parse(out, ec);
        expect(m.has_value(), "the broker's answer does not parse");
        if (auto n = m->find(wire::attr::nonce)) {
          expect(n->value.size() == wire::nonce_size, "a NONCE that is not 20 bytes");
          nonces[static_cast<std::size_t>(source)].assign(n->value.begin(), n->value.end());
        }
        if (auto c = m->find(wire::attr::refresh_credential)) {
          expect(m->cls() == stun::message_class::success_response && m->method() == wire::method::register_peer,
                 "a REFRESH-CREDENTIAL outside a Register success answer");
          expect(c->value.size() == wire::refresh_credential_size, "a REFRESH-CREDENTIAL that is not 20 bytes");
          credentials[static_cast<std::size_t>(source)].assign(c->value.begin(), c->value.end());
        }
      }
    }
    expect(answers <= 1, "more than one answer to one datagram");
  }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (sodium_init() < 0) std::abort();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input_reader in({reinterpret_cast<const std::byte*>(data), size});
  const bool v6 = (in.u8() & 1) != 0;
  const auto from = sources(v6);

  asio::io_context ctx;
  fuzz::fake_transport net(ctx.get_executor());
  auto socket = net.open(v6 ? v4("::", 3478) : v4("192.0.2.1", 3478));
  auto& log = *net.last;
  auto reg = make_memory_registry(4);
  broker_options options;
  options.introduce_attempts = 2;
  // Reached by long inputs from one source; past it the broker drops without answering.
  options.rate_burst = 48;
  options.rate_limit_table = 64;  // small: a table per input
  std::optional<broker> b(std::in_place, socket, *reg, options);
  bool ended = false;
  asio::co_spawn(ctx, b->run(), [&](std::exception_ptr e) {
    expect(!e, "broker::run() threw");
    ended = true;
  });
  ctx.poll();

  checker check;
  // PUNCH_FUZZ_VERBOSE=1: what the broker did with each datagram, for reading a reproducer.
  static const bool verbose = std::getenv("PUNCH_FUZZ_VERBOSE") != nullptr;
  std::vector<std::byte> datagram;
  for (int records = 0; !in.empty() && records < 64; ++records) {
    const std::uint8_t flags = in.u8();
    const std::size_t length = in.u16() & 0x7FF;
    const auto bytes = in.bytes(length);
    datagram.assign(bytes.begin(), bytes.end());
    if (flags & 4) fuzz::fix_length(datagram);
    if ((flags & 16) && check.have_introduce) fuzz::set_transaction_id(datagram, check.last_introduce);
    if (flags & 32) sign(datagram, check.nonces[flags & 3], check.credentials[flags & 3], key_of((flags & 64) != 0));
    if (flags & 8) fuzz::fix_fingerprint(datagram);
    const endpoint& source = from[flags & 3];

    const auto received = b->stats().received;
    log.sent.clear();
    log.deliver(datagram, source);
    ctx.restart();
    ctx.poll();
    expect(b->stats().received == received + 1, "a delivered datagram was not counted");
    check.check(datagram, source, flags & 3, log.sent);
    if (verbose) {
      std::fprintf(stderr, "datagram %d: %zu bytes from source %d;", records, datagram.size(), flags & 3);
      for (const auto& d : log.sent)
        std::fprintf(stderr, " sent %zu bytes type 0x%02x%02x;", d.bytes.size(), std::to_integer<unsigned>(d.bytes[0]),
                     std::to_integer<unsigned>(d.bytes[1]));
      std::fprintf(stderr, "\n");
    }
  }
  if (verbose) {
    const auto& st = b->stats();
    std::fprintf(stderr, "received %llu rate-limited %llu malformed %llu registrations %llu refreshes %llu challenges %llu auth-failed %llu lookups %llu connects %llu introductions %llu acked %llu errors %llu\n",
                 (unsigned long long)st.received, (unsigned long long)st.rate_limited, (unsigned long long)st.malformed,
                 (unsigned long long)st.registrations, (unsigned long long)st.refreshes, (unsigned long long)st.challenges, (unsigned long long)st.auth_failed,
                 (unsigned long long)st.lookups, (unsigned long long)st.connects, (unsigned long long)st.introductions,
                 (unsigned long long)st.introductions_acked, (unsigned long long)st.errors_sent);
  }

  // The broker stops when its socket closes, and takes its introductions with it.
  socket.close();
  ctx.restart();
  ctx.poll();
  expect(ended, "broker::run() did not end after close()");
  b.reset();
  ctx.restart();
  ctx.poll();
  return 0;
}
