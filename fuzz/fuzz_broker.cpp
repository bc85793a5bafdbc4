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
// FINGERPRINT; bit 4: take the transaction id of the last Introduce the broker sent.
#include "fake_transport.hpp"
#include "fixups.hpp"

#include "punch/broker.hpp"
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

struct checker {
  stun::transaction_id last_introduce{};
  bool have_introduce = false;

  // What the broker sent while handling `request` from `from`.
  void check(std::span<const std::byte> request, const endpoint& from, std::span<const fuzz::datagram> sent) {
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
    if (flags & 8) fuzz::fix_fingerprint(datagram);
    const endpoint& source = from[flags & 3];

    const auto received = b->stats().received;
    log.sent.clear();
    log.deliver(datagram, source);
    ctx.restart();
    ctx.poll();
    expect(b->stats().received == received + 1, "a delivered datagram was not counted");
    check.check(datagram, source, log.sent);
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
    std::fprintf(stderr, "received %llu malformed %llu registrations %llu lookups %llu connects %llu introductions %llu acked %llu errors %llu\n",
                 (unsigned long long)st.received, (unsigned long long)st.malformed, (unsigned long long)st.registrations,
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
