// Gathering our host candidates from the socket's address or the transport's interfaces.
#include "session/host_candidates.hpp"

#include "punch/wire/protocol.hpp"

#include <algorithm>

namespace punch::detail {

std::vector<endpoint> gather_host_candidates(transport& t, const endpoint& local) {
  std::vector<endpoint> out;
  if (!local.address().is_unspecified()) {
    if (!local.address().is_loopback()) out.push_back(local);
    return out;
  }
  // 0.0.0.0 reaches IPv4 only; :: is dual-stack and reaches both, IPv6 listed first (RFC 8421).
  const bool dual = local.address().is_v6();
  auto addresses = t.interface_addresses();
  std::stable_partition(addresses.begin(), addresses.end(), [](const asio::ip::address& a) { return a.is_v6(); });
  for (const auto& a : addresses) {
    if (out.size() == wire::max_host_candidates) break;
    if (a.is_v6() && !dual) continue;
    out.emplace_back(a, local.port());
  }
  return out;
}

}  // namespace punch::detail
