// The simulated router's PCP server: reads MAP requests (RFC 6887 §7.1, §11.1), makes the
// mapping in its NAT box, and answers (§7.2, §11.1) with the granted lifetime and its epoch.
// Its own byte layout, not the framework's codec: that one encodes requests and decodes
// answers, the client's half.
#include "punch/plugins/sim/pcp_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <cstring>

namespace punch::sim {

namespace {

namespace asio = boost::asio;
using endpoint = boost::asio::ip::udp::endpoint;

constexpr std::size_t header_size = 24;
constexpr std::size_t map_size = 36;
constexpr std::uint8_t map_opcode = 1;
// RFC 6887 §7.4.
constexpr std::uint8_t success = 0, unsupp_version = 1, malformed_request = 3, unsupp_opcode = 4,
                       no_resources = 8, address_mismatch = 12;

std::uint32_t get32(const std::byte* p) {
  return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | std::uint32_t(p[3]);
}
void put32(std::byte* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = std::byte(v >> (24 - 8 * i));
}
// §5: IPv4 addresses travel IPv4-mapped in 16 bytes.
asio::ip::address get_address(const std::byte* p) {
  asio::ip::address_v6::bytes_type b;
  std::memcpy(b.data(), p, 16);
  const asio::ip::address_v6 v6(b);
  if (v6.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, v6);
  return v6;
}
void put_address(std::byte* p, const asio::ip::address& a) {
  const auto v6 = a.is_v4() ? asio::ip::make_address_v6(asio::ip::v4_mapped, a.to_v4()) : a.to_v6();
  const auto b = v6.to_bytes();
  std::memcpy(p, b.data(), 16);
}

}  // namespace

struct pcp_server::state {
  state(network& n, nat_box& b, host& h, std::chrono::seconds max)
      : net(n), nat(b), where(h), max_lifetime(max), started(n.now()) {}
  network& net;
  nat_box& nat;
  host& where;
  std::chrono::seconds max_lifetime;
  punch::clock::time_point started;
  datagram_socket socket;
  counters stats;
  bool stopped = false;

  // The answer to `req` from `from` in `out`; its size.
  std::size_t answer(std::span<const std::byte> req, const endpoint& from, std::span<std::byte> out) {
    std::fill(out.begin(), out.end(), std::byte{0});
    out[0] = std::byte{2};
    out[1] = std::byte(0x80 | (std::to_integer<std::uint8_t>(req[1]) & 0x7f));  // R bit, the request's opcode
    const auto epoch = std::chrono::duration_cast<std::chrono::seconds>(net.now() - started);
    put32(&out[8], static_cast<std::uint32_t>(epoch.count()));
    const auto refuse = [&](std::uint8_t code, std::size_t size) {
      ++stats.refused;
      out[3] = std::byte{code};
      put32(&out[4], 30);  // §7.2: how long the error holds
      return size;
    };
    // §9: a version we do not speak is answered with ours.
    if (std::to_integer<std::uint8_t>(req[0]) != 2) return refuse(unsupp_version, header_size);
    if ((std::to_integer<std::uint8_t>(req[1]) & 0x7f) != map_opcode) return refuse(unsupp_opcode, header_size);
    if (req.size() < header_size + map_size) return refuse(malformed_request, header_size);
    // §8.3: the client address inside must be the packet's source (no NAT between).
    if (get_address(&req[8]) != from.address()) return refuse(address_mismatch, header_size + map_size);
    const std::byte* m = &req[header_size];
    std::byte* o = &out[header_size];
    std::memcpy(o, m, 12 + 1);  // nonce and protocol echoed (§11.1)
    std::memcpy(o + 16, m + 16, 2);  // internal port
    const std::uint16_t internal = static_cast<std::uint16_t>(std::to_integer<unsigned>(m[16]) << 8 | std::to_integer<unsigned>(m[17]));
    const std::uint16_t suggested = static_cast<std::uint16_t>(std::to_integer<unsigned>(m[18]) << 8 | std::to_integer<unsigned>(m[19]));
    const std::chrono::seconds asked(get32(&req[4]));
    const endpoint inside(from.address(), internal);
    if (asked.count() == 0) {
      // §15: lifetime 0 deletes.
      ++stats.deleted;
      nat.unmap(inside);
      put_address(o + 20, nat.external_address());
      return header_size + map_size;
    }
    const auto granted = std::min(asked, max_lifetime);
    auto external = nat.map_explicitly(inside, suggested, granted);
    if (!external) return refuse(no_resources, header_size + map_size);
    ++stats.granted;
    put32(&out[4], static_cast<std::uint32_t>(granted.count()));
    o[18] = std::byte(external->port() >> 8);
    o[19] = std::byte(external->port() & 0xff);
    put_address(o + 20, external->address());
    return header_size + map_size;
  }

  static asio::awaitable<void> serve(std::shared_ptr<state> s) {
    std::array<std::byte, 1100> in;
    std::array<std::byte, header_size + map_size> out;
    endpoint from;
    while (s->socket.is_open()) {
      auto [ec, n] = co_await s->socket.async_receive_from(asio::buffer(in), from, asio::as_tuple(asio::use_awaitable));
      if (!s->socket.is_open()) break;
      // §8.3: requests are at least 2 bytes (version, opcode), responses are not answered.
      if (ec || n < 2 || (std::to_integer<std::uint8_t>(in[1]) & 0x80) || s->stopped) continue;
      if (n < header_size) n = header_size;  // short: answered as malformed, from zeros
      const auto size = s->answer(std::span<const std::byte>(in.data(), n), from, out);
      co_await s->socket.async_send_to(asio::buffer(out.data(), size), from, asio::as_tuple(asio::use_awaitable));
    }
  }
};

pcp_server::pcp_server(network& net, nat_box& nat, const boost::asio::ip::address& inside_address,
                       std::chrono::seconds max_lifetime) {
  auto& h = net.add_host(nat.name() + "-pcp", nat.inside(), inside_address);
  state_ = std::make_shared<state>(net, nat, h, max_lifetime);
  state_->socket = h.transport().open({{}, port});
  asio::co_spawn(net.get_executor(), state::serve(state_), asio::detached);
}

pcp_server::~pcp_server() { state_->socket.close(); }

void pcp_server::restart() {
  state_->nat.reboot();
  state_->started = state_->net.now();
}

void pcp_server::stop() { state_->stopped = true; }

const pcp_server::counters& pcp_server::stats() const noexcept { return state_->stats; }

}  // namespace punch::sim
