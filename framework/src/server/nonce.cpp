#include "server/nonce.hpp"

namespace punch::detail {

nonce nonce_issuer::issue(const endpoint& source, clock::time_point now) const noexcept {
  nonce n;
  const std::uint32_t t = seconds_of(now);
  for (int i = 0; i < 4; ++i) n[static_cast<std::size_t>(i)] = std::byte(t >> (24 - 8 * i));
  mac(t, source, std::span<std::byte, mac_size>(n.data() + 4, mac_size));
  return n;
}

std::optional<std::uint32_t> nonce_issuer::valid(std::span<const std::byte> value, const endpoint& source,
                                                 clock::time_point now, std::chrono::seconds lifetime) const noexcept {
  if (value.size() != wire::nonce_size) return std::nullopt;
  const std::uint32_t issued = issue_time_of(value);
  if (!fresh(issued, now, lifetime)) return std::nullopt;
  std::array<std::byte, mac_size> expected;
  mac(issued, source, expected);
  if (sodium_memcmp(expected.data(), value.data() + 4, mac_size) != 0) return std::nullopt;
  return issued;
}

void nonce_issuer::mac(std::uint32_t t, const endpoint& source, std::span<std::byte, mac_size> out) const noexcept {
  std::array<unsigned char, 4 + max_endpoint_bytes> in{};
  std::size_t n = put_u32(in, 0, t);
  n = put_endpoint(in, n, source);
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(), in.data(), n,
                     reinterpret_cast<const unsigned char*>(secret_.data()), secret_.size());
}

}  // namespace punch::detail
