// punch-bench's requests: Binding, Register (refreshed with the broker's REFRESH-CREDENTIAL,
// or signed over its NONCE), Lookup and Connect built with the wire codec, padded as the amplification rule asks
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

// register_peer is the keepalive's refresh, with the broker's REFRESH-CREDENTIAL;
// register_signed a Register signed over the broker's NONCE (docs/protocol.md, "Register");
// register_spoofed a first-datagram Register signed over a TIMESTAMP from a source that never
// answers the challenge, as a spoofed flood (docs/protocol.md, "TIMESTAMP"; spoofed_flood.hpp).
// relay: datagrams forwarded between the two sides of relay allocations (relay_bench.cpp);
// its request is punch-relay's ALLOCATE, not in all_kinds (it needs servers of its own).
enum class request_kind : std::uint8_t { binding, register_peer, register_signed, lookup, connect, relay, register_spoofed };
inline constexpr request_kind all_kinds[] = {request_kind::binding, request_kind::register_peer,
                                             request_kind::register_signed, request_kind::lookup,
                                             request_kind::connect, request_kind::register_spoofed};

// "binding", "register", "register-signed", "lookup", "connect", "relay", "register-spoofed".
std::string_view name_of(request_kind k) noexcept;

// What one request says; the ids are the caller's.
struct request_fields {
  request_kind kind = request_kind::binding;
  std::string_view id;      // Register, Connect: the sender
  std::string_view target;  // Lookup, Connect; relay (ALLOCATE): the 16-byte RELAY-ID
  stun::endpoint host;      // Register: one host candidate
  std::uint32_t lifetime = 600;
  const identity* key = nullptr;      // Register: PUBLIC-KEY, and the SIGNATURE's key
  std::span<const std::byte> nonce;   // Register: the broker's NONCE; empty: not signed; ALLOCATE: the relay's
  std::uint64_t timestamp = 0;        // Register without NONCE: TIMESTAMP (ms since 1970), signed; 0: none
  std::span<const std::byte> credential;  // Register without NONCE: the REFRESH-CREDENTIAL
};

// Builds the request into `out` (stun::max_message_size bytes): FINGERPRINT always, PADDING
// up to the answer bound for Lookup, Connect, ALLOCATE and a Register that is not signed (a
// refresh with its credential, or the first, unsigned one); a Register with a NONCE or a
// TIMESTAMP is signed by `key`. Empty if `out` is too small.
std::span<const std::byte> build_request(std::span<std::byte> out, const request_fields& f,
                                         const stun::transaction_id& id);

// How a datagram that came back is read: only the first 20 bytes are looked at.
enum class answer_class : std::uint8_t { success, error, request, other };
answer_class classify(std::span<const std::byte> datagram) noexcept;
std::uint16_t method_of(std::span<const std::byte> datagram) noexcept;
// The ERROR-CODE of an error answer (0 if none), its NONCE and REFRESH-CREDENTIAL (empty if
// none); each parses the datagram.
int error_code_of(std::span<const std::byte> datagram) noexcept;
std::span<const std::byte> nonce_of(std::span<const std::byte> datagram) noexcept;
std::span<const std::byte> credential_of(std::span<const std::byte> datagram) noexcept;

// The 20-byte success response that acknowledges an Introduce with transaction `datagram`'s id.
std::span<const std::byte> introduce_ack(std::span<std::byte, stun::header_size> out,
                                         std::span<const std::byte> datagram) noexcept;

}  // namespace punch::bench
