// Text forms of identity keys: a public key's 43 characters, and the key file's lines.
#include "identity/key_text.hpp"

#include <sodium.h>

#include <algorithm>

namespace punch {
namespace detail {
namespace {

constexpr int base64_variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;

bool is_base64url(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// "bad seed (expected 43 characters of base64, found 44)": what a user needs to fix it.
std::string bad_value(std::string_view what, std::string_view value) {
  std::string problem = "bad ";
  problem += what;
  if (value.ends_with('\r')) return problem + " (the line ends with \\r: use Unix line ends)";
  problem += " (expected 43 characters of base64";
  if (value.size() != key_text_size)
    problem += ", found " + std::to_string(value.size());
  else if (!std::all_of(value.begin(), value.end(), is_base64url))
    problem += ": A-Z a-z 0-9 - _";
  problem += ')';
  return problem;
}

// What follows "label:" on a line that starts with it.
std::optional<std::string_view> after_label(std::string_view line, std::string_view label) {
  if (!line.starts_with(label)) return std::nullopt;
  return line.substr(label.size());
}

// The 32 bytes of "label: <43 characters>", or `problem` says what is wrong with them.
std::optional<std::array<std::byte, 32>> value_of(std::string_view rest, std::string_view what,
                                                  std::string& problem) {
  if (!rest.starts_with(' ')) {
    problem = "bad " + std::string{what} + " (expected one space after the colon)";
    return std::nullopt;
  }
  rest.remove_prefix(1);
  auto bytes = decode_base64_32(rest);
  if (!bytes) problem = bad_value(what, rest);
  return bytes;
}

// Encodes in place, so that a seed's text exists only in `out` (which the caller wipes).
void append_base64_32(std::string& out, std::span<const std::byte, 32> bytes) {
  const auto at = out.size();
  out.resize(at + key_text_size);
  // The string's terminator takes libsodium's '\0'.
  static_assert(sodium_base64_ENCODED_LEN(32, base64_variant) == key_text_size + 1);
  sodium_bin2base64(out.data() + at, key_text_size + 1,
                    reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                    base64_variant);
}

}  // namespace

public_key public_key_of(const identity_seed& seed) noexcept {
  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> pk;
  std::array<unsigned char, crypto_sign_SECRETKEYBYTES> sk;
  crypto_sign_seed_keypair(pk.data(), sk.data(), reinterpret_cast<const unsigned char*>(seed.data()));
  sodium_memzero(sk.data(), sk.size());
  public_key key;
  std::copy_n(reinterpret_cast<const std::byte*>(pk.data()), key.size(), key.begin());
  return key;
}

std::optional<std::array<std::byte, 32>> decode_base64_32(std::string_view text) noexcept {
  // The length and the alphabet first: libsodium would also stop at other characters, and
  // the exact length keeps every key at one text form.
  if (text.size() != key_text_size || !std::all_of(text.begin(), text.end(), is_base64url))
    return std::nullopt;
  std::array<std::byte, 32> bytes;
  std::size_t length = 0;
  const char* end = nullptr;
  // libsodium rejects non-zero unused bits in the last character.
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(bytes.data()), bytes.size(), text.data(),
                        text.size(), nullptr, &length, &end, base64_variant) != 0 ||
      length != bytes.size() || end != text.data() + text.size())
    return std::nullopt;
  return bytes;
}

std::string encode_base64_32(std::span<const std::byte, 32> bytes) {
  std::string text;
  append_base64_32(text, bytes);
  return text;
}

std::optional<identity_seed> parse_key_text(std::string_view text, std::string& problem) {
  problem.clear();
  if (text.size() > max_key_file_size) {
    problem = "is too large to be a punch identity key file (over " +
              std::to_string(max_key_file_size) + " bytes)";
    return std::nullopt;
  }
  // A key file that lacks the seed line is something else altogether (a PEM key, a note):
  // say so instead of complaining about its first line.
  bool has_seed_line = false;
  for (std::string_view rest = text; !rest.empty();) {
    const auto eol = rest.find('\n');
    if (rest.substr(0, eol).starts_with(seed_label)) has_seed_line = true;
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
  }
  if (!has_seed_line) {
    problem = text.empty() ? "is empty (not a punch identity key file)"
                           : "not a punch identity key file (it has no punch-ed25519-seed line)";
    return std::nullopt;
  }

  std::optional<identity_seed> seed;
  std::optional<public_key> claimed;
  std::size_t number = 0;
  for (std::string_view rest = text; !rest.empty();) {
    const auto eol = rest.find('\n');
    const auto line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
    ++number;
    if (line.empty() || line.starts_with('#')) continue;
    if (auto value = after_label(line, seed_label)) {
      if (seed) {
        problem = "has two punch-ed25519-seed lines (line " + std::to_string(number) + ")";
        return std::nullopt;
      }
      seed = value_of(*value, "seed", problem);
      if (!seed) return std::nullopt;
    } else if (auto value = after_label(line, public_label)) {
      if (claimed) {
        problem = "has two public lines (line " + std::to_string(number) + ")";
        return std::nullopt;
      }
      claimed = value_of(*value, "public key", problem);
      if (!claimed) return std::nullopt;
    } else {
      problem = "line " + std::to_string(number) +
                " is not a key file line (only # comments, punch-ed25519-seed: and public:)";
      return std::nullopt;
    }
  }
  if (claimed && *claimed != public_key_of(*seed)) {
    problem = "public key does not match the seed";
    return std::nullopt;
  }
  return seed;
}

std::string format_key_text(const identity_seed& seed) {
  std::string text;
  // One allocation: a reallocation would leave a copy of the seed in freed memory.
  text.reserve(key_file_comment.size() + seed_label.size() + public_label.size() +
               2 * key_text_size + 8);
  text += key_file_comment;
  text += '\n';
  text += seed_label;
  text += ' ';
  append_base64_32(text, seed);
  text += '\n';
  text += public_label;
  text += ' ';
  append_base64_32(text, public_key_of(seed));
  text += '\n';
  return text;
}

}  // namespace detail

std::string to_string(const public_key& key) { return detail::encode_base64_32(key); }

std::optional<public_key> parse_public_key(std::string_view text) noexcept {
  return detail::decode_base64_32(text);
}

}  // namespace punch
