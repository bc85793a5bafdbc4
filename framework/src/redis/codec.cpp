// encode/decode of the Redis cluster's values (the layouts are in codec.hpp).
#include "redis/codec.hpp"

#include <algorithm>
#include <cstring>

namespace punch::detail {
namespace {

constexpr char codec_version = 1;

void put_bytes(std::string& out, const void* p, std::size_t n) { out.append(static_cast<const char*>(p), n); }

void put_short_text(std::string& out, std::string_view s) {
  out += static_cast<char>(std::min<std::size_t>(s.size(), 255));
  out.append(s.substr(0, 255));
}

void put_endpoint(std::string& out, const endpoint& ep) {
  if (ep.port() == 0) {
    out += '\0';
    return;
  }
  if (ep.address().is_v4()) {
    out += '\4';
    const auto b = ep.address().to_v4().to_bytes();
    put_bytes(out, b.data(), b.size());
  } else {
    out += '\6';
    const auto b = ep.address().to_v6().to_bytes();
    put_bytes(out, b.data(), b.size());
  }
  out += static_cast<char>(ep.port() >> 8);
  out += static_cast<char>(ep.port() & 0xFF);
}

// Reads from a string value, every length checked before the read.
struct reader {
  std::string_view v;
  bool ok = true;

  bool has(std::size_t n) {
    if (v.size() < n) ok = false;
    return ok;
  }
  std::uint8_t byte() {
    if (!has(1)) return 0;
    const auto b = static_cast<std::uint8_t>(v[0]);
    v.remove_prefix(1);
    return b;
  }
  std::string_view take(std::size_t n) {
    if (!has(n)) return {};
    auto s = v.substr(0, n);
    v.remove_prefix(n);
    return s;
  }
  std::string_view short_text() { return take(byte()); }
  endpoint read_endpoint() {
    const auto family = byte();
    if (!ok || family == 0) return {};
    if (family != 4 && family != 6) {
      ok = false;
      return {};
    }
    const auto bytes = take(family == 4 ? 4 : 16);
    const auto port_bytes = take(2);
    if (!ok) return {};
    const auto port = static_cast<std::uint16_t>(static_cast<std::uint8_t>(port_bytes[0]) << 8 |
                                                 static_cast<std::uint8_t>(port_bytes[1]));
    if (family == 4) {
      asio::ip::address_v4::bytes_type b;
      std::memcpy(b.data(), bytes.data(), b.size());
      return {asio::ip::address_v4(b), port};
    }
    asio::ip::address_v6::bytes_type b;
    std::memcpy(b.data(), bytes.data(), b.size());
    return {asio::ip::address_v6(b), port};
  }
};

}  // namespace

std::string entry_owner_prefix(const registration_record& r, std::string_view holder) {
  std::string out;
  out += codec_version;
  put_bytes(out, r.key.data(), r.key.size());
  put_short_text(out, holder.substr(0, max_holder_size));
  return out;
}

std::string encode_entry(const registration_record& r, std::string_view holder) {
  std::string out = entry_owner_prefix(r, holder);
  out.reserve(out.size() + 1 + 2 * 19 + 1 + r.host().size() * 19);
  out += static_cast<char>(r.nat);
  put_endpoint(out, r.reflexive);
  put_endpoint(out, r.reflexive_alt);
  out += static_cast<char>(r.host().size());
  for (const auto& h : r.host()) put_endpoint(out, h);
  // Last, and only when granted: entries written before MAPPED-CANDIDATE existed still decode.
  if (r.mapped.port() != 0) put_endpoint(out, r.mapped);
  return out;
}

bool decode_entry(std::string_view v, cluster_entry& out) {
  reader in{v};
  if (in.byte() != codec_version) return false;
  const auto key = in.take(out.record.key.size());
  const auto holder = in.short_text();
  const auto nat = in.byte();
  const auto reflexive = in.read_endpoint();
  const auto reflexive_alt = in.read_endpoint();
  const auto hosts = in.byte();
  if (!in.ok || holder.empty() || hosts > out.record.host_storage.size()) return false;
  std::memcpy(out.record.key.data(), key.data(), key.size());
  out.holder.assign(holder);
  out.record.nat = nat;
  out.record.reflexive = reflexive;
  out.record.reflexive_alt = reflexive_alt;
  out.record.host_count = 0;
  for (std::size_t i = 0; i < hosts; ++i) out.record.add_host(in.read_endpoint());
  out.record.mapped = in.ok && !in.v.empty() ? in.read_endpoint() : endpoint{};
  return in.ok && in.v.empty() && reflexive.port() != 0;
}

std::string encode_introduction(const cluster_introduction& in) {
  std::string out;
  out.reserve(4 + in.from_broker.size() + in.requester.size() + in.target.size() + in.token.size() + 2 +
              in.request.size());
  out += codec_version;
  put_short_text(out, in.from_broker);
  put_short_text(out, in.requester);
  put_short_text(out, in.target);
  put_bytes(out, in.token.data(), in.token.size());
  const auto n = std::min<std::size_t>(in.request.size(), 0xFFFF);
  out += static_cast<char>(n >> 8);
  out += static_cast<char>(n & 0xFF);
  put_bytes(out, in.request.data(), n);
  return out;
}

std::optional<cluster_introduction> decode_introduction(std::string_view v) {
  reader in{v};
  cluster_introduction out;
  if (in.byte() != codec_version) return std::nullopt;
  out.from_broker = in.short_text();
  out.requester = in.short_text();
  out.target = in.short_text();
  const auto token = in.take(out.token.size());
  const auto hi = in.byte();
  const auto lo = in.byte();
  const auto request = in.take(static_cast<std::size_t>(hi) << 8 | lo);
  if (!in.ok || !in.v.empty()) return std::nullopt;
  std::memcpy(out.token.data(), token.data(), token.size());
  out.request.resize(request.size());
  if (!request.empty()) std::memcpy(out.request.data(), request.data(), request.size());
  return out;
}

}  // namespace punch::detail
