// punch's own STUN methods and attributes, the data-frame header, and the rules for peer
// ids and tokens. The code points are written down once, here and in docs/protocol.md.
#pragma once

#include "punch/export.hpp"

#include "punch/wire/stun.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace punch::wire {

// Methods from the unassigned STUN method range (RFC 8489 §18.2); see docs/protocol.md.
namespace method {
inline constexpr std::uint16_t binding = stun::method::binding;  // reflexive address, punch checks
inline constexpr std::uint16_t register_peer = 0x0D0;  // peer → broker: id, host candidates, lifetime
inline constexpr std::uint16_t lookup = 0x0D1;         // peer → broker: a peer's candidates
inline constexpr std::uint16_t connect = 0x0D2;        // peer → broker: introduce me to a peer
inline constexpr std::uint16_t introduce = 0x0D3;      // broker → peer: someone wants to connect
inline constexpr std::uint16_t allocate = 0x0D4;       // peer → relay: relay me to my peer
}  // namespace method

// Attributes from the unassigned comprehension-required range 0x4000-0x7FFF (RFC 8489 §18.3).
namespace attr {
inline constexpr std::uint16_t peer_id = 0x4A01;             // UTF-8 id of the sender / subject
inline constexpr std::uint16_t target_id = 0x4A02;           // UTF-8 id of the peer asked for
inline constexpr std::uint16_t host_candidate = 0x4A03;      // XOR-MAPPED-ADDRESS layout
inline constexpr std::uint16_t reflexive_candidate = 0x4A04; // XOR-MAPPED-ADDRESS layout
inline constexpr std::uint16_t lifetime = 0x4A05;            // u32 seconds
inline constexpr std::uint16_t token = 0x4A06;               // 16 random bytes per introduction
inline constexpr std::uint16_t public_key = 0x4A07;          // 32-byte Ed25519 identity key
inline constexpr std::uint16_t signature = 0x4A08;           // 64-byte Ed25519 signature, covering
                                                             // the message before it (add_covering)
inline constexpr std::uint16_t ephemeral_key = 0x4A09;       // 32-byte X25519 key of a handshake
inline constexpr std::uint16_t punch_id = 0x4A0A;            // 8 bytes naming an introduction in checks
inline constexpr std::uint16_t handshake_signature = 0x4A0D; // 64 bytes: Ed25519 over handshake_transcript
inline constexpr std::uint16_t ciphers = 0x4A0E;             // u32: the AEADs the sender can seal frames with
inline constexpr std::uint16_t relay_id = 0x4A0B;            // 16 bytes naming an allocation (ALLOCATE)
inline constexpr std::uint16_t nat_mapping = 0x4A0C;         // u32: 0 unknown, 1 easy, 2 hard (Register,
                                                             // and the subject's in Lookup/Connect/Introduce)
inline constexpr std::uint16_t refresh_credential = 0x4A0F; // 20 bytes: the broker's answer to a signed Register;
                                                             // a Register carrying it refreshes without a signature
inline constexpr std::uint16_t resume = 0x4A10;              // 8 bytes: the PUNCH-ID of the introduction that
                                                             // made a live connection (Connect → Introduce):
                                                             // re-introduce its two peers after a move
inline constexpr std::uint16_t relayed = 0x4A11;             // empty: this check or answer went through the
                                                             // sender's TURN allocation (docs/relay.md, "TURN")
inline constexpr std::uint16_t mapped_candidate = 0x4A12;    // XOR-MAPPED-ADDRESS layout: the port mapping our
                                                             // gateway granted (PCP, NAT-PMP, UPnP IGD); at most one
inline constexpr std::uint16_t timestamp = 0x4A13;           // u64 ms since 1970 UTC: a Register signed
                                                             // without a NONCE, fresh by the broker's clock
inline constexpr std::uint16_t other_address = stun::attr::other_address;  // RFC 5780: the broker's second port
inline constexpr std::uint16_t nonce = stun::attr::nonce;    // broker-issued, signed in Register
inline constexpr std::uint16_t message_integrity_sha256 = stun::attr::message_integrity_sha256;
// RFC 5780 §7.6 PADDING: requests are padded to the size of the largest possible answer,
// because the broker never answers with more bytes than it received (no amplification).
inline constexpr std::uint16_t padding = 0x0026;
// Reused from ICE (RFC 8445 §16.1): role and nomination in punch checks.
inline constexpr std::uint16_t ice_controlling = stun::attr::ice_controlling;
inline constexpr std::uint16_t ice_controlled = stun::attr::ice_controlled;
inline constexpr std::uint16_t use_candidate = stun::attr::use_candidate;
}  // namespace attr

// STUN error codes the broker answers with (RFC 8489 §14.8 classes).
namespace error {
inline constexpr int bad_request = 400;         // malformed, missing attribute, invalid id
inline constexpr int unauthenticated = 401;     // Register without a valid NONCE and SIGNATURE
inline constexpr int stale_nonce = 438;         // the NONCE expired or belongs to another source
inline constexpr int forbidden = 403;           // id held by another endpoint / not your registration
inline constexpr int not_found = 404;           // no such peer
inline constexpr int unknown_attribute = 420;
inline constexpr int rate_limited = 429;
inline constexpr int server_error = 500;
// The broker cannot reach the registry it shares with other brokers (docs/protocol.md,
// "Brokers sharing a registry"): a peer it does not hold itself cannot be looked up now.
inline constexpr int service_unavailable = 503;
inline constexpr int insufficient_capacity = 508;  // registry full
}  // namespace error

inline constexpr std::size_t max_peer_id_size = 64;
inline constexpr std::size_t max_host_candidates = 8;
inline constexpr std::size_t token_size = 16;
inline constexpr std::size_t resume_size = 8;  // RESUME: a PUNCH-ID
// The broker's NONCE: 4 bytes of issue time and a 16-byte MAC over it and the requester's
// address (a stateless cookie: the broker keeps nothing per nonce).
inline constexpr std::size_t nonce_size = 20;
// The broker's REFRESH-CREDENTIAL: 4 bytes of issue time and a 16-byte MAC over it, the
// requester's address, its PUBLIC-KEY and PEER-ID (docs/protocol.md, "Refresh"). The same size
// as a NONCE, which it replaces in the answer to a signed Register (answer_bound::reg_success).
inline constexpr std::size_t refresh_credential_size = 20;
static_assert(refresh_credential_size == nonce_size);
// TIMESTAMP: milliseconds since 1970-01-01T00:00:00Z, big-endian (docs/protocol.md, "TIMESTAMP").
inline constexpr std::size_t timestamp_size = 8;
using token = std::array<std::byte, token_size>;

// Upper bounds of the broker's answers (IPv6 addresses, longest id, every host candidate,
// PUBLIC-KEY and NAT-MAPPING of the subject),
// which the peer pads its requests to. header + attributes + FINGERPRINT.
namespace answer_bound {
inline constexpr std::size_t address = 4 + 20;  // an XOR-address attribute for IPv6
// Register's answers: success (XOR-MAPPED-ADDRESS, LIFETIME, REFRESH-CREDENTIAL after a signed
// Register, OTHER-ADDRESS) or 401/438 (ERROR-CODE with a reason of at most 28 bytes, NONCE).
inline constexpr std::size_t reg_success = stun::header_size + address + 8 + (4 + refresh_credential_size) +
                                           address /* OTHER-ADDRESS */ + stun::fingerprint_size;
inline constexpr std::size_t reg_challenge = stun::header_size + (8 + 28) + (4 + nonce_size) + stun::fingerprint_size;
inline constexpr std::size_t reg = reg_success > reg_challenge ? reg_success : reg_challenge;
// A dual-stack subject has a REFLEXIVE-CANDIDATE per family, and a MAPPED-CANDIDATE when its gateway granted one.
inline constexpr std::size_t lookup = stun::header_size + (4 + max_peer_id_size) + (4 + 32) + 8 + 3 * address +
                                      max_host_candidates * address + stun::fingerprint_size;
inline constexpr std::size_t connect = lookup + (4 + token_size) + address;
// ALLOCATE's answers: success (XOR-MAPPED-ADDRESS, LIFETIME) or 401/403/429 with a NONCE.
inline constexpr std::size_t allocate = reg;
}  // namespace answer_bound

// Adds PADDING so that the request, once finished with FINGERPRINT, is at least `size` bytes:
// the amplification rule (docs/protocol.md) answers only requests as large as their answer.
PUNCH_EXPORT void pad_request(stun::builder& b, std::size_t size) noexcept;

// Ids are 1..64 characters of [A-Za-z0-9._@-]: printable in logs and JSON without escaping.
PUNCH_EXPORT bool valid_peer_id(std::string_view id) noexcept;

using connection_tag = std::uint32_t;

// What both peers of an introduction derive from its token (BLAKE2b keyed with the token):
// the key of their checks' MESSAGE-INTEGRITY-SHA256, the PUNCH-ID that names the
// introduction in checks (the token itself never travels between the peers), and the tag of
// the connection's data frames.
struct PUNCH_EXPORT introduction_keys {
  std::array<std::byte, 32> check_key{};
  std::array<std::byte, 8> punch_id{};
  connection_tag tag = 0;
  std::array<std::byte, 16> relay_id{};  // names the pair's allocation at a relay (ALLOCATE)
};
PUNCH_EXPORT introduction_keys derive_keys(const token& t) noexcept;

// What a peer's identity signs once per punch attempt (HANDSHAKE-SIGNATURE in every check and
// check answer): a context string, the introduction's token (which the two peers know and
// never send), the signer's role and its ephemeral X25519 key. The signature binds the
// ephemeral key to the identity and to this introduction; MESSAGE-INTEGRITY-SHA256 protects
// each check.
inline constexpr std::size_t handshake_transcript_size = 18 + token_size + 1 + 32;
PUNCH_EXPORT std::array<std::byte, handshake_transcript_size> handshake_transcript(const token& t, bool controlling,
                                                                      std::span<const std::byte, 32> ephemeral) noexcept;
PUNCH_EXPORT connection_tag tag_of(const token& t) noexcept;  // derive_keys(t).tag

// Application data and connection control travel in data frames, told apart from STUN by the
// first byte (RFC 7983: STUN starts 0..3; we use 0xD0..0xDF, above RTP's 128..191).
//   byte 0: 0xD0 | kind   bytes 1..4: connection tag   bytes 5..12: counter (big-endian)
//   then the payload sealed with XChaCha20-Poly1305 (the 13 header bytes are its associated
//   data, the counter its nonce) and the 16-byte Poly1305 tag. Control frames seal nothing.
// CIPHERS bits. XChaCha20-Poly1305 is always available; AES-256-GCM where the CPU has AES
// instructions (libsodium's crypto_aead_aes256gcm_is_available): it is used when both sides
// offer it, because it is about three times faster there.
namespace cipher {
inline constexpr std::uint32_t aes256gcm = 1;
}
inline constexpr std::size_t frame_header_size = 13;
inline constexpr std::size_t frame_mac_size = 16;
inline constexpr std::size_t frame_overhead = frame_header_size + frame_mac_size;
// probe / probe_ack: a path check inside the connection (docs/protocol.md, "Path probes"):
// a probe asks for a probe_ack at once, on the path it came from. sctp: one SCTP packet of
// the connection's streams (docs/streams.md).
enum class frame_kind : std::uint8_t {
  data = 0, keepalive = 1, close = 2, close_ack = 3, probe = 4, probe_ack = 5, sctp = 6 };
inline constexpr std::byte frame_marker{0xD0};

constexpr bool looks_like_frame(std::span<const std::byte> d) noexcept {
  return d.size() >= frame_overhead && (d[0] & std::byte{0xF0}) == frame_marker &&
         std::to_integer<std::uint8_t>(d[0] & std::byte{0x0F}) <= 6;
}
PUNCH_EXPORT void write_frame_header(std::span<std::byte, frame_header_size> out, frame_kind kind,
                        connection_tag tag, std::uint64_t counter) noexcept;
// Precondition: looks_like_frame(d).
PUNCH_EXPORT frame_kind frame_kind_of(std::span<const std::byte> d) noexcept;
PUNCH_EXPORT connection_tag frame_tag_of(std::span<const std::byte> d) noexcept;
PUNCH_EXPORT std::uint64_t frame_counter_of(std::span<const std::byte> d) noexcept;

}  // namespace punch::wire
