// The text of an identity key file, without the file: the format, its parser and its writer.
// Kept apart from the file handling so that the parser can be fuzzed (fuzz/fuzz_identity.cpp).
//
//   # punch identity key: keep this file private (mode 0600)
//   punch-ed25519-seed: <43 characters: URL-safe base64 without padding of the 32-byte seed>
//   public: <43 characters: the public key, for humans; optional, checked when present>
//
// Lines end with '\n' (the last one may lack it). Blank lines and lines starting with '#' are
// comments. Anything else is an error, as is a second seed or public line.
#pragma once

#include "punch/identity.hpp"

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace punch::detail {

inline constexpr std::size_t seed_size = 32;             // crypto_sign_SEEDBYTES
inline constexpr std::size_t secret_key_size = 64;       // crypto_sign_SECRETKEYBYTES
inline constexpr std::size_t key_text_size = 43;         // base64 of 32 bytes, no padding
inline constexpr std::size_t max_key_file_size = 4096;   // a key file has under 200 bytes

using identity_seed = std::array<std::byte, seed_size>;

inline constexpr std::string_view key_file_comment =
    "# punch identity key: keep this file private (mode 0600)";
inline constexpr std::string_view seed_label = "punch-ed25519-seed:";
inline constexpr std::string_view public_label = "public:";

// The public key of a seed (libsodium's crypto_sign_seed_keypair).
public_key public_key_of(const identity_seed& seed) noexcept;

// 43 characters of URL-safe base64 without padding; nullopt for anything else, including
// an encoding whose unused low bits are not zero (so every key has one text form).
std::optional<std::array<std::byte, 32>> decode_base64_32(std::string_view text) noexcept;
std::string encode_base64_32(std::span<const std::byte, 32> bytes);

// The seed of a key file's text; nullopt with `problem` set to one phrase that says what is
// wrong ("bad seed (expected 43 characters of base64)"), for "<path>: <problem>" messages.
std::optional<identity_seed> parse_key_text(std::string_view text, std::string& problem);

// The text save() writes: the comment, the seed line and the public line.
std::string format_key_text(const identity_seed& seed);

}  // namespace punch::detail
