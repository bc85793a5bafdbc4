// punch-bench's requests: Binding, Register, Lookup and Connect built with the wire codec,
// padded as the amplification rule asks (docs/protocol.md), and the checks on the answers.
#pragma once

#include "punch/wire/protocol.hpp"
#include "punch/wire/stun.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace punch::bench {

enum class request_kind : std::uint8_t { binding, register_peer, lookup, connect };

// "binding", "register", "lookup", "connect".
std::string_view name_of(request_kind k) noexcept;

// What one request says; the ids are the caller's.
struct request_fields {
  request_kind kind = request_kind::binding;
  std::string_view id;      // Register, Connect: the sender
  std::string_view target;  // Lookup, Connect
  stun::endpoint host;      // Register: one host candidate
  std::uint32_t lifetime = 600;
};

// Builds the request into `out` (stun::max_message_size bytes): FINGERPRINT always, PADDING
// up to the answer bound for Lookup and Connect. Empty if `out` is too small.
std::span<const std::byte> build_request(std::span<std::byte> out, const request_fields& f,
                                         const stun::transaction_id& id);

// How a datagram that came back is read: only the first 20 bytes are looked at.
enum class answer_class : std::uint8_t { success, error, request, other };
answer_class classify(std::span<const std::byte> datagram) noexcept;
std::uint16_t method_of(std::span<const std::byte> datagram) noexcept;

// The 20-byte success response that acknowledges an Introduce with transaction `datagram`'s id.
std::span<const std::byte> introduce_ack(std::span<std::byte, stun::header_size> out,
                                         std::span<const std::byte> datagram) noexcept;

}  // namespace punch::bench
