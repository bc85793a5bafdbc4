// The length checks of an SCTP packet before usrsctp parses it (sctp_packet.hpp says why).
#include "session/sctp_packet.hpp"

#include <cstdint>

namespace punch::detail {

namespace {
constexpr std::size_t common_header = 12;  // RFC 9260 §3.1
constexpr std::size_t init_fixed = 20;     // chunk header + tag, a_rwnd, streams, TSN
constexpr unsigned init = 1, init_ack = 2;

std::size_t u16_at(std::span<const std::byte> p, std::size_t at) {
  return std::to_integer<std::size_t>(p[at]) << 8 | std::to_integer<std::size_t>(p[at + 1]);
}
std::size_t padded(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

// A run of type-length-value items from `at` to `end`, each of at least 4 bytes and inside.
bool items_fit(std::span<const std::byte> p, std::size_t at, std::size_t end) {
  while (at < end) {
    if (end - at < 4) return false;
    const std::size_t length = u16_at(p, at + 2);
    if (length < 4 || length > end - at) return false;
    at += padded(length);
  }
  return true;
}
}  // namespace

bool sctp_packet_well_formed(std::span<const std::byte> p) {
  if (p.size() < common_header || !items_fit(p, common_header, p.size())) return false;
  for (std::size_t at = common_header; at < p.size(); at += padded(u16_at(p, at + 2))) {
    const auto type = std::to_integer<unsigned>(p[at]);
    const std::size_t length = u16_at(p, at + 2);
    if ((type == init || type == init_ack) && (length < init_fixed || !items_fit(p, at + init_fixed, at + length)))
      return false;
  }
  return true;
}

}  // namespace punch::detail
