// Identity keys: RFC 8032 Ed25519, the public key's text form, and key files (format, mode,
// creation, refusal to overwrite, and one clear error per kind of bad file).
#include "punch/identity.hpp"

#include "identity/key_text.hpp"

#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using punch::identity;

namespace {

std::vector<std::byte> from_hex(std::string_view hex) {
  std::vector<std::byte> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<std::byte>(std::stoi(std::string{hex.substr(i, 2)}, nullptr, 16)));
  return out;
}

// Byte arrays are compared as hex, so that a failure shows both values.
std::string hex(std::span<const std::byte> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (auto b : bytes) {
    out += digits[std::to_integer<unsigned>(b) >> 4];
    out += digits[std::to_integer<unsigned>(b) & 15];
  }
  return out;
}

template <std::size_t N>
std::array<std::byte, N> array_from_hex(std::string_view hex) {
  auto bytes = from_hex(hex);
  BOOST_TEST_REQUIRE(bytes.size() == N);
  std::array<std::byte, N> out;
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return out;
}

// RFC 8032 §7.1, TEST 1 (the empty message).
const auto rfc_seed =
    array_from_hex<32>("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
const auto rfc_public =
    array_from_hex<32>("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
const auto rfc_signature = array_from_hex<64>(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46b"
    "d25bf5f0595bbe24655141438e7a100b");

// A fresh directory under /tmp, removed with everything in it.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string pattern = "/tmp/punch-identity-test-XXXXXX";
    BOOST_TEST_REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void write_file(const fs::path& path, std::string_view text, mode_t mode = 0600) {
  std::ofstream{path, std::ios::binary} << text;
  BOOST_TEST_REQUIRE(::chmod(path.c_str(), mode) == 0);
}

std::string read_file(const fs::path& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

mode_t mode_of(const fs::path& path) {
  struct stat st{};
  BOOST_TEST_REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// The message of the bad_key_file that `load` throws for `path`.
std::string load_error(const fs::path& path) {
  try {
    identity::load(path);
  } catch (const punch::system_error& e) {
    BOOST_TEST(e.code() == make_error_code(punch::errc::bad_key_file));
    return e.what();
  }
  BOOST_FAIL("load(" + path.string() + ") did not throw");
  return {};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const std::string rfc_seed_text = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const std::string rfc_public_text = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

}  // namespace

BOOST_AUTO_TEST_SUITE(identity_keys)

BOOST_AUTO_TEST_CASE(the_rfc_8032_test_1_seed_gives_its_public_key_and_signature) {
  auto id = identity::from_seed(rfc_seed);
  BOOST_TEST(hex(id.key()) == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  BOOST_TEST(hex(id.sign({})) ==
             "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e"
             "39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  BOOST_TEST(punch::verify(rfc_public, {}, rfc_signature));
}

BOOST_AUTO_TEST_CASE(a_signature_verifies_and_any_flipped_bit_makes_it_fail) {
  auto id = identity::generate();
  const auto message = from_hex("0102030405060708090a");
  const auto sig = id.sign(message);
  BOOST_TEST(punch::verify(id.key(), message, sig));

  auto other_message = message;
  other_message[3] ^= std::byte{0x10};
  BOOST_TEST(!punch::verify(id.key(), other_message, sig));
  auto other_sig = sig;
  other_sig[40] ^= std::byte{0x01};
  BOOST_TEST(!punch::verify(id.key(), message, other_sig));
  auto other_key = id.key();
  other_key[0] ^= std::byte{0x80};
  BOOST_TEST(!punch::verify(other_key, message, sig));
  BOOST_TEST(!punch::verify(identity::generate().key(), message, sig));
}

BOOST_AUTO_TEST_CASE(generated_keys_differ) {
  BOOST_TEST(hex(identity::generate().key()) != hex(identity::generate().key()));
}

BOOST_AUTO_TEST_CASE(a_public_key_is_written_as_43_characters_of_url_safe_base64) {
  BOOST_TEST(punch::to_string(rfc_public) == rfc_public_text);
  auto parsed = punch::parse_public_key(rfc_public_text);
  BOOST_TEST_REQUIRE(parsed.has_value());
  BOOST_TEST(hex(*parsed) == hex(rfc_public));
  for (int i = 0; i < 20; ++i) {
    const auto key = identity::generate().key();
    const auto text = punch::to_string(key);
    BOOST_TEST(text.size() == 43u);
    BOOST_TEST((punch::parse_public_key(text) == key), text);
  }
}

BOOST_AUTO_TEST_CASE(a_public_key_text_of_any_other_form_is_rejected) {
  const std::string& good = rfc_public_text;
  for (const std::string& bad : {
           std::string{},
           good.substr(0, 42),                // too short
           good + "A",                        // too long
           good + "=",                        // padding
           good.substr(0, 42) + "=",          // padding in place of a character
           "+" + good.substr(1),              // standard base64, not URL-safe
           "/" + good.substr(1),
           " " + good.substr(1),
           good.substr(0, 42) + "p",          // 'p' leaves non-zero unused low bits
           good.substr(0, 20) + '\0' + good.substr(21),
       })
    BOOST_TEST(!punch::parse_public_key(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(save_writes_the_documented_format) {
  temp_dir dir;
  const auto path = dir.path / "rfc.key";
  identity::from_seed(rfc_seed).save(path);
  BOOST_TEST(read_file(path) == "# punch identity key: keep this file private (mode 0600)\n"
                                "punch-ed25519-seed: " + rfc_seed_text + "\n"
                                "public: " + rfc_public_text + "\n");
  BOOST_TEST(mode_of(path) == 0600u);
  BOOST_TEST(hex(identity::load(path).key()) == hex(rfc_public));
  // save leaves no temporary file behind.
  BOOST_TEST(std::distance(fs::directory_iterator{dir.path}, fs::directory_iterator{}) == 1);
}

BOOST_AUTO_TEST_CASE(load_or_create_makes_a_private_file_in_new_private_directories) {
  temp_dir dir;
  const auto path = dir.path / "config" / "punch" / "alice.key";
  const auto made = identity::load_or_create(path);
  BOOST_TEST(mode_of(path) == 0600u);
  BOOST_TEST(mode_of(dir.path / "config") == 0700u);
  BOOST_TEST(mode_of(dir.path / "config" / "punch") == 0700u);
  BOOST_TEST(hex(identity::load_or_create(path).key()) == hex(made.key()));
  BOOST_TEST(hex(identity::load(path).key()) == hex(made.key()));
  BOOST_TEST(contains(read_file(path), "public: " + punch::to_string(made.key()) + "\n"));
}

BOOST_AUTO_TEST_CASE(save_refuses_to_overwrite_a_key_file) {
  temp_dir dir;
  const auto path = dir.path / "alice.key";
  identity::from_seed(rfc_seed).save(path);
  try {
    identity::generate().save(path);
    BOOST_FAIL("save overwrote " + path.string());
  } catch (const punch::system_error& e) {
    BOOST_TEST(e.code() == make_error_code(punch::errc::bad_key_file));
    BOOST_TEST(contains(e.what(), path.string() + ": already exists"), e.what());
  }
  BOOST_TEST(hex(identity::load(path).key()) == hex(rfc_public));
}

BOOST_AUTO_TEST_CASE(each_kind_of_bad_key_file_is_reported_with_its_path) {
  temp_dir dir;
  const std::string seed_line = "punch-ed25519-seed: " + rfc_seed_text + "\n";
  const auto other_public = punch::to_string(identity::generate().key());
  struct bad_file {
    std::string name, text, problem;
  };
  for (const auto& f : std::vector<bad_file>{
           {"empty", "", "is empty"},
           {"pem", "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n",
            "not a punch identity key file"},
           {"short_seed", "punch-ed25519-seed: " + rfc_seed_text.substr(1) + "\n",
            "bad seed (expected 43 characters of base64, found 42)"},
           {"bad_characters", "punch-ed25519-seed: " + rfc_seed_text.substr(1) + "+\n",
            "bad seed (expected 43 characters of base64"},
           {"crlf", "punch-ed25519-seed: " + rfc_seed_text + "\r\n",
            "bad seed (the line ends with \\r: use Unix line ends)"},
           {"two_seeds", seed_line + seed_line, "has two punch-ed25519-seed lines (line 2)"},
           {"unknown_line", seed_line + "colour: blue\n", "line 2 is not a key file line"},
           {"wrong_public", seed_line + "public: " + other_public + "\n",
            "public key does not match the seed"},
           {"bad_public", seed_line + "public: xyz\n", "bad public key"},
           {"too_large", seed_line + "#" + std::string(5000, 'x') + "\n",
            "is too large to be a punch identity key file (over 4096 bytes)"},
       }) {
    const auto path = dir.path / (f.name + ".key");
    write_file(path, f.text);
    const auto message = load_error(path);
    BOOST_TEST(contains(message, path.string() + ": " + f.problem), message);
  }
}

BOOST_AUTO_TEST_CASE(a_missing_file_a_directory_and_a_dangling_link_are_reported) {
  temp_dir dir;
  auto message = load_error(dir.path / "nobody.key");
  BOOST_TEST(contains(message, (dir.path / "nobody.key").string() + ": no such file"), message);
  message = load_error(dir.path);
  BOOST_TEST(contains(message, dir.path.string() + ": is a directory"), message);
  fs::create_symlink(dir.path / "gone.key", dir.path / "link.key");
  message = load_error(dir.path / "link.key");
  BOOST_TEST(contains(message, "link.key: is a dangling symbolic link"), message);
}

BOOST_AUTO_TEST_CASE(a_key_file_that_others_can_read_or_write_is_refused) {
  temp_dir dir;
  const auto path = dir.path / "open.key";
  identity::from_seed(rfc_seed).save(path);
  BOOST_TEST_REQUIRE(::chmod(path.c_str(), 0644) == 0);
  auto message = load_error(path);
  BOOST_TEST(contains(message, path.string() + ": is readable by group or others (mode 0644): "
                               "run chmod 600 " + path.string()), message);
  // load_or_create must not replace it either.
  BOOST_CHECK_THROW(identity::load_or_create(path), punch::system_error);
  BOOST_TEST_REQUIRE(::chmod(path.c_str(), 0620) == 0);
  message = load_error(path);
  BOOST_TEST(contains(message, "is writable by group or others (mode 0620)"), message);
  BOOST_TEST_REQUIRE(::chmod(path.c_str(), 0400) == 0);
  BOOST_TEST(hex(identity::load(path).key()) == hex(rfc_public));
}

BOOST_AUTO_TEST_CASE(the_text_parser_takes_comments_and_an_optional_public_line) {
  std::string problem;
  const std::string seed_line = "punch-ed25519-seed: " + rfc_seed_text;
  for (const std::string& good : {seed_line, seed_line + "\n", "# mine\n\n" + seed_line + "\n#\n",
                                  seed_line + "\npublic: " + rfc_public_text,
                                  "public: " + rfc_public_text + "\n" + seed_line + "\n"}) {
    auto seed = punch::detail::parse_key_text(good, problem);
    BOOST_TEST_REQUIRE(seed.has_value(), good << ": " << problem);
    BOOST_TEST(hex(*seed) == hex(rfc_seed));
    BOOST_TEST(problem.empty());
  }
  for (const std::string& bad : {" " + seed_line, seed_line + " ", "punch-ed25519-seed:" + rfc_seed_text,
                                 "punch-ed25519-seed:  " + rfc_seed_text}) {
    BOOST_TEST(!punch::detail::parse_key_text(bad, problem).has_value(), bad);
    BOOST_TEST(!problem.empty());
  }
}

BOOST_AUTO_TEST_SUITE_END()
