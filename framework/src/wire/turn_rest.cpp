// The TURN REST API credentials (punch/turn.hpp): an expiring username and the password that a
// TURN server sharing the secret recomputes (HMAC-SHA1 and base64 from nettle).
#include "punch/turn.hpp"

#include <nettle/base64.h>
#include <nettle/hmac.h>

#include <array>
#include <cstdint>

namespace punch {

turn_credentials turn_rest_credentials(std::string_view secret, std::string_view user, std::chrono::seconds ttl,
                                       std::chrono::system_clock::time_point now) {
  const auto expiry = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()) + ttl;
  turn_credentials c;
  c.username = std::to_string(expiry.count());
  if (!user.empty()) c.username += ":" + std::string(user);
  hmac_sha1_ctx ctx;
  hmac_sha1_set_key(&ctx, secret.size(), reinterpret_cast<const std::uint8_t*>(secret.data()));
  hmac_sha1_update(&ctx, c.username.size(), reinterpret_cast<const std::uint8_t*>(c.username.data()));
  std::array<std::uint8_t, SHA1_DIGEST_SIZE> mac;
  hmac_sha1_digest(&ctx, mac.size(), mac.data());
  c.password.resize(BASE64_ENCODE_RAW_LENGTH(mac.size()));
  base64_encode_raw(c.password.data(), mac.size(), mac.data());
  return c;
}

turn_credentials turn_server::credentials_at(std::chrono::system_clock::time_point now) const {
  if (kind == credentials_kind::rest) return turn_rest_credentials(password, user, rest_ttl, now);
  return {user, password};
}

}  // namespace punch
