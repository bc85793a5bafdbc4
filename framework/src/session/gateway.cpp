// The gateway a port mapping is asked of: the IPv4 default route of /proc/net/route, our own
// address toward it, and RFC 6887 §8.5's test of its epoch (did it restart?).
#include "session/port_mapper.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <fstream>
#include <sstream>

namespace punch::detail {

namespace {

// /proc/net/route writes addresses as 8 hex digits in the kernel's (host, little-endian) order.
std::optional<std::uint32_t> hex_word(std::string_view s) {
  std::uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<asio::ip::address> parse_default_gateway(std::string_view table) {
  std::istringstream in{std::string(table)};
  std::string line;
  std::getline(in, line);  // the column names
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::string iface, dest, gw, flags, refcnt, use, metric, mask;
    if (!(row >> iface >> dest >> gw >> flags >> refcnt >> use >> metric >> mask)) continue;
    const auto d = hex_word(dest), g = hex_word(gw), f = hex_word(flags), m = hex_word(mask);
    constexpr std::uint32_t rtf_up = 0x1, rtf_gateway = 0x2;
    if (!d || !g || !f || !m || *d != 0 || *m != 0 || (*f & (rtf_up | rtf_gateway)) != (rtf_up | rtf_gateway)) continue;
    // Little-endian words: the first byte in memory is the address's first octet.
    const std::uint32_t v = *g;
    return asio::ip::address_v4(asio::ip::address_v4::bytes_type{
        static_cast<unsigned char>(v & 0xff), static_cast<unsigned char>((v >> 8) & 0xff),
        static_cast<unsigned char>((v >> 16) & 0xff), static_cast<unsigned char>(v >> 24)});
  }
  return std::nullopt;
}

std::optional<asio::ip::address> default_gateway() {
  std::ifstream f("/proc/net/route");
  if (!f) return std::nullopt;
  std::stringstream text;
  text << f.rdbuf();
  return parse_default_gateway(text.str());
}

asio::ip::address address_toward(const asio::ip::address& gateway, const std::vector<endpoint>& hosts) {
  asio::ip::address best;
  int best_bits = -1;
  for (const auto& h : hosts) {
    const auto& a = h.address();
    if (a.is_v4() != gateway.is_v4() || a.is_unspecified()) continue;
    int bits = 0;
    if (a.is_v4()) {
      bits = std::countl_zero(a.to_v4().to_uint() ^ gateway.to_v4().to_uint());
    } else {
      const auto x = a.to_v6().to_bytes(), y = gateway.to_v6().to_bytes();
      for (std::size_t i = 0; i < x.size() && x[i] == y[i]; ++i) bits += 8;
    }
    if (bits > best_bits) {
      best = a;
      best_bits = bits;
    }
  }
  return best;
}

bool epoch_continues(clock::time_point previous_at, std::chrono::seconds previous_epoch, clock::time_point now,
                     std::chrono::seconds epoch) {
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  // RFC 6887 §8.5: the server's time going back is a restart; so is its time moving on less
  // than 7/8 of ours, less two seconds of slack (both clocks are in whole seconds).
  if (epoch < previous_epoch) return false;
  const auto client_delta = duration_cast<seconds>(now - previous_at);
  return epoch + seconds(2) >= previous_epoch + client_delta * 7 / 8;
}

}  // namespace punch::detail
