// Where the broker keeps registrations: an interface, and the in-memory default.
#pragma once

#include "punch/export.hpp"

#include "punch/error.hpp"
#include "punch/identity.hpp"
#include "punch/transport.hpp"
#include "punch/wire/protocol.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace punch {

// What the broker knows about one registered peer.
struct PUNCH_EXPORT registration {
  std::string id;
  public_key key{};                 // the identity key the id is bound to while it is live
  endpoint reflexive;               // the source address the broker saw (the NAT's mapping)
  std::vector<endpoint> host;       // the peer's own interface addresses (≤ wire::max_host_candidates)
  std::chrono::steady_clock::time_point expires;
  // A dual-stack peer's reflexive address in the other family (port 0: none): it registered
  // over both (docs/protocol.md, "Register").
  endpoint reflexive_alt{};
  // The mapping the peer's gateway granted it (port 0: none): its `mapped` candidate.
  endpoint mapped{};
};

// The same in fixed storage (ids up to wire::max_peer_id_size, up to
// wire::max_host_candidates host candidates): the broker's hot path reads and writes these
// without allocating.
struct PUNCH_EXPORT registration_record {
  public_key key{};
  endpoint reflexive;
  endpoint reflexive_alt{};  // the other family's, when the peer registered over both (port 0: none)
  endpoint mapped{};         // the port mapping its gateway granted (MAPPED-CANDIDATE; port 0: none)
  // The broker's: the issue time (seconds, modulo 2^32) of the NONCE that the stored Register
  // signed, so that an older signed Register replayed later is refused.
  std::uint32_t nonce_time = 0;
  // False while the peer has not shown that it receives at `reflexive`: a Register taken on its
  // first datagram (TIMESTAMP) proves no address, and a spoofed one could aim Introduces at a
  // victim. Set by a NONCE round trip or a refresh by credential (both answers went there).
  // The broker sends Introduces to an unproven address once, not retransmitted.
  bool address_proven = true;
  std::chrono::steady_clock::time_point expires;
  std::array<endpoint, wire::max_host_candidates> host_storage{};
  std::array<char, wire::max_peer_id_size> id_storage{};
  std::uint8_t id_size = 0;
  std::uint8_t host_count = 0;
  std::uint8_t nat = 0;  // the NAT-MAPPING the peer reported: 0 unknown, 1 easy, 2 hard

  std::string_view id() const noexcept { return {id_storage.data(), id_size}; }
  std::span<const endpoint> host() const noexcept { return {host_storage.data(), host_count}; }
  // False (and unchanged) when the id is longer than the storage.
  bool set_id(std::string_view id) noexcept {
    if (id.size() > id_storage.size()) return false;
    std::copy(id.begin(), id.end(), id_storage.begin());
    id_size = static_cast<std::uint8_t>(id.size());
    return true;
  }
  // False (and unchanged) when every slot is taken.
  bool add_host(const endpoint& ep) noexcept {
    if (host_count == host_storage.size()) return false;
    host_storage[host_count++] = ep;
    return true;
  }
};

class PUNCH_EXPORT registry {
public:
  virtual ~registry() = default;

  // Inserts or refreshes `r`: a live id is bound to the key that registered it, which may
  // refresh it or move it to another reflexive endpoint. errc::id_taken when the id is live
  // and held by another key (an expired id is free for any key); errc::registry_full when a
  // new id does not fit.
  virtual error_code upsert(const registration_record& r, std::chrono::steady_clock::time_point now) = 0;
  // Copies the live registration for `id` into `out` and returns true, if there is one
  // (expired entries count as absent).
  virtual bool find(std::string_view id, std::chrono::steady_clock::time_point now,
                    registration_record& out) const = 0;
  // Moves the expiry of the live registration of `r.id()` to `r.expires`, takes `r.nat`, and
  // returns true if it is `r` otherwise: the same key, reflexive endpoint (`r.reflexive` may be
  // the stored one of either family), host candidates (in order) and mapped candidate. False, and nothing changes, when it is absent, expired or different.
  // The broker's refresh by credential (docs/protocol.md, "Refresh"): one step, so that no
  // upsert from another thread comes between the comparison and the update. The default finds,
  // compares and upserts; the registries here do it in one look-up, under one lock.
  virtual bool extend(const registration_record& r, std::chrono::steady_clock::time_point now);

  // The same with owning types, for callers off the hot path. upsert answers
  // errc::bad_attribute_value for an id or a host list that a record cannot hold.
  error_code upsert(const registration& r, std::chrono::steady_clock::time_point now);
  std::optional<registration> find(std::string_view id, std::chrono::steady_clock::time_point now) const;
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

// A hash map bounded by `capacity` registrations. Not thread-safe.
PUNCH_EXPORT std::unique_ptr<registry> make_memory_registry(std::size_t capacity);

// The same, safe to share between threads (punch-broker --threads): `stripes` memory
// registries, each behind its own mutex, an id always in the same one. Each stripe holds
// capacity / stripes (rounded up), so a stripe can be full a little before the whole is.
// expire() calls `on_expired` with a stripe locked: the handler must not call the registry.
PUNCH_EXPORT std::unique_ptr<registry> make_shared_registry(std::size_t capacity, std::size_t stripes = 64);

}  // namespace punch
