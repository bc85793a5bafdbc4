// punch-bench-cookie: the broker's CPU per spoofed, timestamped, signed Register in cookie mode
// against its CPU per Binding (issue 18: target ≤ 2×), and per Register it verifies, for scale.
// It feeds broker::handle() directly, one datagram at a time from a new source address each,
// so it measures the broker's own work per datagram and none of the kernel's (which adds the
// same to every kind: see docs/performance.md, "Registration time"). Rounds interleave the
// kinds; it prints each round's ns per request and the median ratio.
#include "punch/broker.hpp"
#include "punch/identity.hpp"
#include "punch/registry.hpp"
#include "punch/wire/protocol.hpp"
#include "punch/wire/stun.hpp"

#include <boost/asio/ip/address_v4.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace {

using bytes = std::vector<std::byte>;
namespace stun = punch::stun;
namespace wire = punch::wire;

double cpu_ns() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e9 + static_cast<double>(t.tv_nsec);
}

stun::transaction_id tid(std::uint32_t n) {
  stun::transaction_id id{};
  std::memcpy(id.data(), &n, sizeof n);
  id[11] = std::byte{0x5a};
  return id;
}

bytes binding(std::uint32_t n) {
  std::array<std::byte, stun::max_message_size> buf;
  stun::builder b(buf, stun::message_class::request, wire::method::binding, tid(n));
  const auto out = b.finish_with_fingerprint();
  return {out.begin(), out.end()};
}

// A session's first Register: PEER-ID, LIFETIME, PUBLIC-KEY, TIMESTAMP (now), SIGNATURE.
bytes stamped_register(const punch::identity& who, const std::string& id, std::uint32_t n) {
  std::array<std::byte, stun::max_message_size> buf;
  stun::builder b(buf, stun::message_class::request, wire::method::register_peer, tid(n));
  b.add_string(wire::attr::peer_id, id);
  b.add_u32(wire::attr::lifetime, 60);
  b.add(wire::attr::public_key, who.key());
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  b.add_u64(wire::attr::timestamp,
            static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count()));
  b.add_covering(wire::attr::signature, punch::signature_size, [&](std::span<const std::byte> covered, std::span<std::byte> out) {
    const auto sig = who.sign(covered);
    std::memcpy(out.data(), sig.data(), sig.size());
  });
  const auto out = b.finish_with_fingerprint();
  return {out.begin(), out.end()};
}

// ns of CPU per datagram for `count` datagrams of `kind` through `b`, each from a new source.
double per_request(punch::broker& b, const std::vector<bytes>& kind, std::uint32_t count, std::uint32_t& source) {
  std::array<std::byte, stun::max_message_size> answer;
  std::size_t answered = 0;
  const double t0 = cpu_ns();
  for (std::uint32_t i = 0; i < count; ++i) {
    const punch::endpoint from{boost::asio::ip::address_v4(0x0A000000u + (++source % 0xFFFFFFu)), 40000};
    answered += b.handle(kind[i % kind.size()], from, answer).empty() ? 0 : 1;
  }
  const double took = cpu_ns() - t0;
  if (answered != count) std::fprintf(stderr, "warning: %zu of %u answered\n", answered, count);
  return took / count;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
  const std::uint32_t count = argc > 2 ? static_cast<std::uint32_t>(std::max(1, std::atoi(argv[2]))) : 100000;
  std::vector<bytes> bindings, registers;
  for (std::uint32_t i = 0; i < 1024; ++i) bindings.push_back(binding(i));
  std::vector<punch::identity> keys;
  for (int i = 0; i < 64; ++i) keys.push_back(punch::identity::generate());
  for (std::uint32_t i = 0; i < 1024; ++i) registers.push_back(stamped_register(keys[i % keys.size()], "peer-" + std::to_string(i), i));

  // No rate limit: every datagram comes from another address anyway, as in a spoofed flood.
  punch::broker_options cookie;
  cookie.rate_limit = 0;
  cookie.cookie_threshold = 0;  // cookie mode at any load
  punch::broker_options open = cookie;
  open.cookie_threshold = 1u << 30;  // never busy: every Register verified
  open.replay_cache_size = 1u << 22;
  punch::datagram_socket none;
  auto reg_a = punch::make_memory_registry(1 << 20), reg_b = punch::make_memory_registry(1 << 20);
  punch::broker in_cookie_mode(none, *reg_a, cookie), verifying(none, *reg_b, open);

  std::uint32_t source = 0;
  std::vector<double> ratios;
  std::printf("round  binding ns  cookie-register ns  ratio  verified-register ns\n");
  for (int r = 0; r <= rounds; ++r) {
    const double bind = per_request(in_cookie_mode, bindings, count, source);
    const double cook = per_request(in_cookie_mode, registers, count, source);
    // Fewer, and fresh ones each round (signed before the clock starts): the same bytes again
    // would be refused by the replay cache without a verification.
    std::vector<bytes> fresh;
    for (std::uint32_t i = 0; i < 1024; ++i)
      fresh.push_back(stamped_register(keys[i % keys.size()], "peer-" + std::to_string(i), (static_cast<std::uint32_t>(r) + 1) << 16 | i));
    const double ver = per_request(verifying, fresh, 1024, source);
    if (r == 0) continue;  // warm-up
    ratios.push_back(cook / bind);
    std::printf("%5d  %10.0f  %18.0f  %5.2f  %20.0f\n", r, bind, cook, cook / bind, ver);
  }
  std::sort(ratios.begin(), ratios.end());
  std::printf("median cookie-register / binding: %.2fx (target <= 2x); cookie challenges %llu, verifications %llu\n",
              ratios[ratios.size() / 2], static_cast<unsigned long long>(in_cookie_mode.stats().cookie_challenges),
              static_cast<unsigned long long>(in_cookie_mode.stats().signatures_verified));
  return 0;
}
