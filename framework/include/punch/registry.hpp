// Where the broker keeps registrations: an interface, and the in-memory default.
#pragma once

#include "punch/error.hpp"
#include "punch/transport.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace punch {

// What the broker knows about one registered peer.
struct registration {
  std::string id;
  endpoint reflexive;               // the source address the broker saw (the NAT's mapping)
  std::vector<endpoint> host;       // the peer's own interface addresses (≤ wire::max_host_candidates)
  std::chrono::steady_clock::time_point expires;
};

class registry {
public:
  virtual ~registry() = default;

  // Inserts or refreshes `r`. errc::registry_full when a new id does not fit;
  // errc::id_taken when the id is live and registered from another reflexive endpoint.
  virtual error_code upsert(const registration& r, std::chrono::steady_clock::time_point now) = 0;
  // The live registration for `id`, if any (expired entries count as absent).
  virtual std::optional<registration> find(std::string_view id,
                                           std::chrono::steady_clock::time_point now) const = 0;
  virtual bool erase(std::string_view id) = 0;
  // Drops expired entries and returns how many, calling `on_expired` (if set) with each id
  // and reflexive endpoint before it goes. Called periodically by the broker.
  using expired_handler = std::function<void(std::string_view id, const endpoint& reflexive)>;
  virtual std::size_t expire(std::chrono::steady_clock::time_point now,
                             const expired_handler& on_expired) = 0;
  std::size_t expire(std::chrono::steady_clock::time_point now) { return expire(now, {}); }
  // Entries held, including expired ones that expire() has not dropped yet.
  virtual std::size_t size() const = 0;
};

// A hash map bounded by `capacity` registrations.
std::unique_ptr<registry> make_memory_registry(std::size_t capacity);

}  // namespace punch
