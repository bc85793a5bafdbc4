// Identity key pairs (libsodium's Ed25519) and their key files: private (mode 0600), written
// once, atomically, and never overwritten. The text format is in identity_text.hpp.
#include "punch/identity.hpp"

#include "identity/key_text.hpp"

#include <sodium.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace punch {
namespace {

namespace fs = std::filesystem;

// Idempotent and thread-safe in libsodium itself; it picks the fastest implementations and
// seeds randombytes.
void init_sodium() {
  if (sodium_init() < 0) throw std::runtime_error{"libsodium failed to initialise"};
}

[[noreturn]] void fail(const fs::path& path, const std::string& problem) {
  throw system_error{make_error_code(errc::bad_key_file), path.string() + ": " + problem};
}

std::string octal_mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// Closes on every way out.
struct file_descriptor {
  int fd = -1;
  explicit file_descriptor(int f) : fd{f} {}
  file_descriptor(const file_descriptor&) = delete;
  file_descriptor& operator=(const file_descriptor&) = delete;
  ~file_descriptor() {
    if (fd >= 0) ::close(fd);
  }
};

// The file's text, up to one byte more than a key file may have (the parser says it is too
// large). nullopt when there is no such file, so that load_or_create can make one.
std::optional<std::string> read_key_file(const fs::path& path) {
  // O_NONBLOCK: opening a FIFO must not hang; the type is checked right after.
  file_descriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)};
  if (file.fd < 0) {
    const int error = errno;
    if (error == ENOENT) {
      struct stat link;
      if (::lstat(path.c_str(), &link) == 0) fail(path, "is a dangling symbolic link");
      return std::nullopt;
    }
    fail(path, std::string{"cannot read: "} + std::strerror(error));
  }
  struct stat st;
  if (::fstat(file.fd, &st) != 0) fail(path, std::string{"cannot read: "} + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) fail(path, "is a directory");
  if (!S_ISREG(st.st_mode)) fail(path, "is not a regular file");
  // The rule of ssh's private keys: a secret that others can read, or replace, is no secret.
  if (st.st_mode & 077) {
    const char* what = st.st_mode & 044   ? "is readable by group or others"
                       : st.st_mode & 022 ? "is writable by group or others"
                                          : "gives group or others access";
    fail(path, std::string{what} + " (mode " + octal_mode(st.st_mode) + "): run chmod 600 " +
                   path.string());
  }

  std::string text(detail::max_key_file_size + 1, '\0');
  std::size_t size = 0;
  while (size < text.size()) {
    const auto n = ::read(file.fd, text.data() + size, text.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      sodium_memzero(text.data(), text.size());
      fail(path, std::string{"cannot read: "} + std::strerror(error));
    }
    if (n == 0) break;
    size += static_cast<std::size_t>(n);
  }
  // Shrinking keeps the allocation: the wipe after parsing covers every byte read.
  text.resize(size);
  return text;
}

// Creates the missing directories of `dir`, each with mode 0700 (existing ones are left as
// they are: they may be shared, like ~/.config).
void make_private_directories(const fs::path& dir, const fs::path& key_path) {
  if (dir.empty()) return;
  fs::path partial;
  for (const auto& part : dir) {
    partial /= part;
    if (::mkdir(partial.c_str(), 0700) == 0 || errno == EEXIST) continue;
    const int error = errno;
    // mkdir may say EACCES or EROFS about a directory that is already there.
    struct stat st;
    if (::stat(partial.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) continue;
    fail(key_path, "cannot create directory " + partial.string() + ": " + std::strerror(error));
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    fail(key_path, "cannot create directory " + dir.string() + ": " + std::strerror(ENOTDIR));
}

// Writes `text` to a new private file next to `path` and returns its name.
fs::path write_temporary(const fs::path& path, const std::string& text) {
  std::array<unsigned char, 8> random;
  randombytes_buf(random.data(), random.size());
  std::string suffix = ".tmp-";
  for (auto b : random) suffix += "0123456789abcdef"[b >> 4], suffix += "0123456789abcdef"[b & 15];
  fs::path temporary = path.parent_path() / ("." + path.filename().string() + suffix);

  file_descriptor file{
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)};
  if (file.fd < 0) fail(path, std::string{"cannot write: "} + std::strerror(errno));
  std::size_t written = 0;
  while (written < text.size()) {
    const auto n = ::write(file.fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::unlink(temporary.c_str());
      fail(path, std::string{"cannot write: "} + std::strerror(error));
    }
    written += static_cast<std::size_t>(n);
  }
  // The key must be on disk before its name is: a crash must not leave an empty key file.
  if (::fsync(file.fd) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    fail(path, std::string{"cannot write: "} + std::strerror(error));
  }
  return temporary;
}

// Gives the temporary file its final name unless that name is taken: link() fails with
// EEXIST where rename() would replace. Filesystems without hard links get renameat2's
// RENAME_NOREPLACE instead.
void publish(const fs::path& temporary, const fs::path& path) {
  int error = 0;
  if (::link(temporary.c_str(), path.c_str()) != 0) {
    error = errno;
    if (error == EPERM || error == EOPNOTSUPP || error == ENOSYS || error == EMLINK)
      error = ::renameat2(AT_FDCWD, temporary.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) == 0
                  ? 0
                  : errno;
  }
  ::unlink(temporary.c_str());
  if (error == EEXIST) fail(path, "already exists");
  if (error != 0) fail(path, std::string{"cannot write: "} + std::strerror(error));
  // The new name must survive a crash too.
  const auto dir = path.parent_path().empty() ? fs::path{"."} : path.parent_path();
  file_descriptor d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (d.fd >= 0) ::fsync(d.fd);
}

// The identity of a key file's text, which is wiped whatever happens.
identity of_key_text(const fs::path& path, std::string& text) {
  std::string problem;
  auto seed = detail::parse_key_text(text, problem);
  sodium_memzero(text.data(), text.size());
  if (!seed) fail(path, problem);
  auto id = identity::from_seed(*seed);
  sodium_memzero(seed->data(), seed->size());
  return id;
}

}  // namespace

bool verify(const public_key& key, std::span<const std::byte> message, const signature& sig) noexcept {
  // libsodium reads no byte of an empty message, but wants a pointer all the same.
  static const unsigned char nothing = 0;
  const auto* m = message.empty() ? &nothing : reinterpret_cast<const unsigned char*>(message.data());
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig.data()), m,
                                     message.size(),
                                     reinterpret_cast<const unsigned char*>(key.data())) == 0;
}

identity identity::generate() {
  init_sodium();
  std::array<std::byte, 32> seed;
  randombytes_buf(seed.data(), seed.size());
  auto id = from_seed(seed);
  sodium_memzero(seed.data(), seed.size());
  return id;
}

identity identity::from_seed(std::span<const std::byte, 32> seed) {
  init_sodium();
  static_assert(crypto_sign_SEEDBYTES == 32 && crypto_sign_SECRETKEYBYTES == 64 &&
                crypto_sign_PUBLICKEYBYTES == public_key_size && crypto_sign_BYTES == signature_size);
  identity id;
  std::copy(seed.begin(), seed.end(), id.seed_.begin());
  crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(id.public_.data()),
                           reinterpret_cast<unsigned char*>(id.secret_.data()),
                           reinterpret_cast<const unsigned char*>(id.seed_.data()));
  return id;
}

identity identity::load(const fs::path& path) {
  auto text = read_key_file(path);
  if (!text) fail(path, "no such file");
  return of_key_text(path, *text);
}

identity identity::load_or_create(const fs::path& path) {
  if (auto text = read_key_file(path)) return of_key_text(path, *text);
  auto id = generate();
  try {
    id.save(path);
  } catch (const system_error&) {
    // Another process made it first: its key is the one to use, as it may already be in use.
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0) return load(path);
    throw;
  }
  return id;
}

void identity::save(const fs::path& path) const {
  init_sodium();
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) fail(path, "already exists");
  make_private_directories(path.parent_path(), path);
  auto text = detail::format_key_text(seed_);
  fs::path temporary;
  try {
    temporary = write_temporary(path, text);
  } catch (...) {
    sodium_memzero(text.data(), text.size());
    throw;
  }
  sodium_memzero(text.data(), text.size());
  publish(temporary, path);
}

signature identity::sign(std::span<const std::byte> message) const noexcept {
  static const unsigned char nothing = 0;
  const auto* m = message.empty() ? &nothing : reinterpret_cast<const unsigned char*>(message.data());
  signature sig;
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr, m, message.size(),
                       reinterpret_cast<const unsigned char*>(secret_.data()));
  return sig;
}

identity::~identity() {
  sodium_memzero(seed_.data(), seed_.size());
  sodium_memzero(secret_.data(), secret_.size());
}

}  // namespace punch
