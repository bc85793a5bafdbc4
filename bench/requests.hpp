// punch-bench's requests: Binding, Register (signed over the broker's NONCE), Lookup and
// Connect built with the wire codec, padded as the amplification rule asks
// (docs/protocol.md), and the checks on the answers.
#pragma once

#include "punch/identity.hpp"
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
  const identity* key = nullptr;      // Register: PUBLIC-KEY, and the SIGNATURE's key
  std::span<const std::byte> nonce;   // Register: the broker's NONCE; empty: unsigned
};

// Builds the request into `out` (stun::max_message_size bytes): FINGERPRINT always, PADDING
// up to the answer bound for Lookup, Connect and an unsigned Register; a Register with a
// NONCE is signed by `key`. Empty if `out` is too small.
std::span<const std::byte> build_request(std::span<std::byte> out, const request_fields& f,
                                         const stun::transaction_id& id);

// How a datagram that came back is read: only the first 20 bytes are looked at.
enum class answer_class : std::uint8_t { success, error, request, other };
answer_class classify(std::span<const std::byte> datagram) noexcept;
std::uint16_t method_of(std::span<const std::byte> datagram) noexcept;
// The ERROR-CODE of an error answer (0 if none), and its NONCE (empty if none); both parse.
int error_code_of(std::span<const std::byte> datagram) noexcept;
std::span<const std::byte> nonce_of(std::span<const std::byte> datagram) noexcept;

// The 20-byte success response that acknowledges an Introduce with transaction `datagram`'s id.
std::span<const std::byte> introduce_ack(std::span<std::byte, stun::header_size> out,
                                         std::span<const std::byte> datagram) noexcept;

}  // namespace punch::bench
