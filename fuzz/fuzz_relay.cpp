// libFuzzer target for the relay's datagram logic (punch::relay::handle, no I/O): each input
// is a sequence of datagrams from a handful of sources. After every datagram the fuzzer checks
// what the relay decided: an answer goes to the source, echoes the transaction id, is valid
// STUN and is never larger than the request (amplification ≤ 1, no floor); a forward carries
// the datagram unchanged, comes from a source the relay answered with success, and goes to
// another such source (never an open relay).
//
// Input: byte 0 (unused, as in the other targets' format); then records of
//   [flags][length: 2 bytes, big-endian, low 11 bits][datagram]
// flags bits 0-1: the source (4 fixed endpoints); bit 2: fix the length field; bit 3: fix
// FINGERPRINT; bit 4: a 20-byte NONCE gets the last NONCE the relay sent to this source;
// bit 5: a 16-byte RELAY-ID gets one of two fixed ids (bit 6 picks which); bit 7: the clock
// moves 40 s forward first (lifetimes, NONCE age, token buckets).
#include "fixups.hpp"
#include "function_clock.hpp"

#include "punch/relay.hpp"
#include "punch/wire/protocol.hpp"
#include "punch/wire/stun.hpp"

#include <sodium.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <vector>

namespace {

namespace asio = boost::asio;
using namespace punch;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_relay: %s\n", what);
    std::abort();
  }
}

endpoint ep(const char* a, unsigned short port) { return {asio::ip::make_address(a), port}; }

struct reader {
  std::span<const std::uint8_t> in;
  bool empty() const { return in.empty(); }
  std::uint8_t u8() {
    if (in.empty()) return 0;
    const auto v = in[0];
    in = in.subspan(1);
    return v;
  }
  std::span<const std::uint8_t> bytes(std::size_t n) {
    n = std::min(n, in.size());
    auto out = in.first(n);
    in = in.subspan(n);
    return out;
  }
};

// Every attribute of `type` and `size` gets `value`.
void set_attribute(std::span<std::byte> d, std::uint16_t type, std::span<const std::byte> value) {
  fuzz::each_attribute(d, [&](std::uint16_t t, std::size_t at, std::size_t len) {
    if (t == type && len == value.size()) std::copy(value.begin(), value.end(), d.begin() + static_cast<std::ptrdiff_t>(at));
  });
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (sodium_init() < 0) std::abort();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  reader in{{data, size}};
  in.u8();  // unused
  punch::clock::time_point now{std::chrono::hours(1)};
  test::function_clock by_hand{[&now] { return now; }};
  relay_options o;
  o.clock = &by_hand;
  o.max_allocations = 4;
  o.rate_limit = 8;
  o.rate_burst = 8;
  o.allocate_rate_limit = 8;
  o.allocate_rate_burst = 8;
  o.allocate_rate_table = 4;
  datagram_socket none;
  relay r(none, o);

  const std::array<endpoint, 4> sources{ep("198.51.100.1", 1000), ep("198.51.100.2", 2000), ep("203.0.113.3", 3000),
                                        ep("198.51.100.1", 1001)};
  std::map<endpoint, std::vector<std::byte>> nonces;  // the last NONCE each source was sent
  std::set<endpoint> allocated;                       // sources answered with success
  std::array<std::byte, stun::max_message_size> answer;
  std::vector<std::byte> d;
  std::array<std::byte, 16> ids[2];
  ids[0].fill(std::byte{0x11});
  ids[1].fill(std::byte{0x22});

  for (int records = 0; !in.empty() && records < 64; ++records) {
    const std::uint8_t flags = in.u8();
    const std::size_t length = ((std::size_t{in.u8()} << 8) | in.u8()) & 0x7FF;
    const auto bytes = in.bytes(length);
    d.assign(reinterpret_cast<const std::byte*>(bytes.data()), reinterpret_cast<const std::byte*>(bytes.data()) + bytes.size());
    const endpoint& from = sources[flags & 3];
    if (flags & 128) now += std::chrono::seconds(40);
    if (flags & 4) fuzz::fix_length(d);
    if ((flags & 16) && nonces.contains(from)) set_attribute(d, wire::attr::nonce, nonces[from]);
    if (flags & 32) set_attribute(d, wire::attr::relay_id, ids[(flags >> 6) & 1]);
    if (flags & 8) fuzz::fix_fingerprint(d);

    const relay_action act = r.handle(d, from, answer);
    switch (act.what) {
      case relay_action::kind::none:
        break;
      case relay_action::kind::answer: {
        expect(act.to == from, "an answer went to another address than the request's source");
        expect(act.bytes.size() <= d.size(), "an answer is larger than its request (amplification)");
        error_code ec;
        auto m = stun::message::parse(act.bytes, ec);
        expect(m.has_value(), "the relay answered with a malformed message");
        expect(d.size() >= stun::header_size && std::equal(m->id().begin(), m->id().end(), d.begin() + 8),
               "the answer does not echo the request's transaction id");
        if (auto n = m->find(wire::attr::nonce)) nonces[from].assign(n->value.begin(), n->value.end());
        if (m->cls() == stun::message_class::success_response) allocated.insert(from);
        break;
      }
      case relay_action::kind::forward:
        expect(act.bytes.data() == d.data() && act.bytes.size() == d.size(), "a forwarded datagram was changed");
        expect(allocated.contains(from), "forwarded a datagram from a source that never allocated");
        expect(allocated.contains(act.to) && act.to != from, "forwarded to an address that never allocated");
        break;
    }
  }
  return 0;
}
