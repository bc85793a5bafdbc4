// A peer's identity: an Ed25519 key pair (libsodium). The broker binds a peer id to the
// public key that first registered it; peers prove they hold the secret key in the handshake
// of every connection. See docs/security.md.
//
//   auto me = punch::identity::load_or_create("/var/lib/app/alice.key");  // 0600, made once
//   punch::session s{t, {.broker = b, .id = "alice", .key = me}};
#pragma once

#include "punch/export.hpp"

#include "punch/error.hpp"

#include <array>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace punch {

inline constexpr std::size_t public_key_size = 32;  // crypto_sign_PUBLICKEYBYTES
inline constexpr std::size_t signature_size = 64;   // crypto_sign_BYTES
using public_key = std::array<std::byte, public_key_size>;
using signature = std::array<std::byte, signature_size>;

// The text form of a public key (43 characters of URL-safe base64 without padding), as logs,
// --events and --expect-key show and take it.
PUNCH_EXPORT std::string to_string(const public_key& key);
// Parses that text form; nullopt for anything else.
PUNCH_EXPORT std::optional<public_key> parse_public_key(std::string_view text) noexcept;

// True if `sig` is `key`'s Ed25519 signature of `message`.
PUNCH_EXPORT bool verify(const public_key& key, std::span<const std::byte> message, const signature& sig) noexcept;

class PUNCH_EXPORT identity {
public:
  // A new random key pair, in memory only.
  static identity generate();
  // The key pair of a 32-byte seed (deterministic: for tests and tools).
  static identity from_seed(std::span<const std::byte, 32> seed);

  // Reads a key file written by save() (format: docs/security.md). errc::bad_key_file
  // (thrown as system_error whose message is "<path>: <problem>") when it is missing,
  // unreadable, malformed, or readable or writable by group or others.
  static identity load(const std::filesystem::path& path);
  // Reads the key file, or, when there is none, makes a new key and saves it there
  // (creating missing parent directories with mode 0700). When another process saves one
  // at the same moment, both return the key that landed.
  static identity load_or_create(const std::filesystem::path& path);
  // Writes the key file with mode 0600, atomically (a synced temporary file in the same
  // directory, then link()); never overwrites an existing file ("already exists").
  // Creates missing parent directories with mode 0700. errc::bad_key_file on failure.
  void save(const std::filesystem::path& path) const;

  const public_key& key() const noexcept { return public_; }
  signature sign(std::span<const std::byte> message) const noexcept;

  identity(const identity&) = default;
  identity& operator=(const identity&) = default;
  // Wipes the secret (sodium_memzero); every copy wipes its own.
  ~identity();

private:
  identity() = default;
  std::array<std::byte, 32> seed_{};
  std::array<std::byte, 64> secret_{};  // libsodium's secret key (seed + public key)
  public_key public_{};
};

}  // namespace punch
