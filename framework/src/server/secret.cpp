#include "server/secret.hpp"

#include <sodium.h>

#include <stdexcept>

namespace punch::detail {

server_secret random_secret() {
  // Idempotent and thread-safe; randombytes needs it before its first use.
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  server_secret s;
  randombytes_buf(s.data(), s.size());
  return s;
}

}  // namespace punch::detail
