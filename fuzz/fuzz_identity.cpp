// libFuzzer target for the text forms of identity keys: the key file parser (whatever the
// text, a seed or one problem, and what it accepts survives a write and a read back) and the
// public key's 43 characters (accepted only in the one form to_string writes).
#include "identity/key_text.hpp"

#include "punch/identity.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace punch;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_identity: %s\n", what);
    std::abort();
  }
}

void check_key_file_text(std::string_view text) {
  std::string problem = "stale";
  const auto seed = detail::parse_key_text(text, problem);
  expect(seed.has_value() == problem.empty(), "a seed comes without a problem, else with one");
  if (!seed) return;
  // The seed line holds the seed's one text form, so the accepted text contains it.
  expect(text.find(detail::encode_base64_32(*seed)) != std::string_view::npos,
         "the seed's text form is in the text it was read from");
  const auto written = detail::format_key_text(*seed);
  const auto again = detail::parse_key_text(written, problem);
  expect(again.has_value() && *again == *seed, "a written key file reads back the same seed");
}

void check_public_key_text(std::string_view text) {
  const auto key = parse_public_key(text);
  if (!key) return;
  expect(text.size() == detail::key_text_size, "a public key text has 43 characters");
  expect(to_string(*key) == text, "a public key has one text form");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text{reinterpret_cast<const char*>(data), size};
  check_key_file_text(text);
  check_public_key_text(text);
  // Each line on its own too, so that a line of a key file meets parse_public_key.
  for (std::string_view rest = text; !rest.empty();) {
    const auto eol = rest.find('\n');
    const auto line = rest.substr(0, eol);
    if (const auto colon = line.find(": "); colon != std::string_view::npos)
      check_public_key_text(line.substr(colon + 2));
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
  }
  // Any 32 bytes are a seed and a key: both survive their text forms.
  if (size >= 32) {
    detail::identity_seed seed;
    std::copy_n(reinterpret_cast<const std::byte*>(data), seed.size(), seed.begin());
    std::string problem;
    const auto back = detail::parse_key_text(detail::format_key_text(seed), problem);
    expect(back.has_value() && *back == seed, "any seed survives format_key_text");
    expect(parse_public_key(to_string(seed)) == seed, "any key survives to_string");
  }
  return 0;
}
