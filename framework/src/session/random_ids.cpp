// Random identifiers of the peer session, from libsodium's generator.
#include "session/random_ids.hpp"

#include <sodium.h>

namespace punch::detail {

stun::transaction_id random_transaction_id() {
  stun::transaction_id id;
  randombytes_buf(id.data(), id.size());
  return id;
}
std::uint64_t random_u64() {
  std::uint64_t v;
  randombytes_buf(&v, sizeof v);
  return v;
}

}  // namespace punch::detail
