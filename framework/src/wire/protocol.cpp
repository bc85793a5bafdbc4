// Peer id rules and the data-frame header (see punch/wire/protocol.hpp).
#include "punch/wire/protocol.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string_view>

namespace punch::wire {

void pad_request(stun::builder& b, std::size_t size) noexcept {
  static constexpr std::array<std::byte, stun::max_message_size> zeros{};
  const std::size_t finished = b.size() + stun::fingerprint_size;
  if (finished >= size) return;
  const std::size_t value = std::max<std::size_t>(4, (size - finished + 3) / 4 * 4 - 4);
  b.add(attr::padding, std::span(zeros).first(value));
}

bool valid_peer_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > max_peer_id_size) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-' || c == '@';
    if (!ok) return false;
  }
  return true;
}

introduction_keys derive_keys(const token& t) noexcept {
  static constexpr std::string_view context = "punch introduction keys v1";
  std::array<unsigned char, 60> out;
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(context.data()), context.size(),
                     reinterpret_cast<const unsigned char*>(t.data()), t.size());
  introduction_keys k;
  std::memcpy(k.check_key.data(), out.data(), 32);
  std::memcpy(k.punch_id.data(), out.data() + 32, 8);
  k.tag = (std::uint32_t{out[40]} << 24) | (std::uint32_t{out[41]} << 16) | (std::uint32_t{out[42]} << 8) | out[43];
  std::memcpy(k.relay_id.data(), out.data() + 44, 16);
  sodium_memzero(out.data(), out.size());
  return k;
}

connection_tag tag_of(const token& t) noexcept { return derive_keys(t).tag; }

std::array<std::byte, handshake_transcript_size> handshake_transcript(const token& t, bool controlling,
                                                                      std::span<const std::byte, 32> ephemeral) noexcept {
  static constexpr std::string_view context = "punch handshake v1";
  static_assert(context.size() == 18);
  std::array<std::byte, handshake_transcript_size> out{};
  std::memcpy(out.data(), context.data(), context.size());
  std::memcpy(out.data() + 18, t.data(), t.size());
  out[18 + token_size] = std::byte{static_cast<unsigned char>(controlling ? 1 : 0)};
  std::memcpy(out.data() + 18 + token_size + 1, ephemeral.data(), ephemeral.size());
  return out;
}

void write_frame_header(std::span<std::byte, frame_header_size> out, frame_kind kind,
                        connection_tag tag, std::uint64_t counter) noexcept {
  out[0] = frame_marker | std::byte{static_cast<std::uint8_t>(kind)};
  out[1] = std::byte(tag >> 24);
  out[2] = std::byte(tag >> 16);
  out[3] = std::byte(tag >> 8);
  out[4] = std::byte(tag);
  for (int i = 0; i < 8; ++i) out[5 + i] = std::byte(counter >> (56 - 8 * i));
}

frame_kind frame_kind_of(std::span<const std::byte> d) noexcept {
  return static_cast<frame_kind>(std::to_integer<std::uint8_t>(d[0] & std::byte{0x0F}));
}

connection_tag frame_tag_of(std::span<const std::byte> d) noexcept {
  return (std::to_integer<std::uint32_t>(d[1]) << 24) | (std::to_integer<std::uint32_t>(d[2]) << 16) |
         (std::to_integer<std::uint32_t>(d[3]) << 8) | std::to_integer<std::uint32_t>(d[4]);
}

std::uint64_t frame_counter_of(std::span<const std::byte> d) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | std::to_integer<std::uint64_t>(d[5 + i]);
  return v;
}

}  // namespace punch::wire
