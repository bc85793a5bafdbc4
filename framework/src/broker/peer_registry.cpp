// The in-memory registry: a hash map from peer id to registration, bounded in size.
#include "punch/registry.hpp"

#include "punch/clock.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>

namespace punch {
namespace {

// True if `stored` registers what `r` asks: the key, reflexive endpoint, NAT-MAPPING and host
// candidates of a registration (the expiry and the NONCE time aside).
// What a refresh by credential may not change. NAT-MAPPING it may: the peer measures it
// after its first Register, and telling it must not cost a second signature.
bool same_registration(const public_key& key, const endpoint& reflexive, const endpoint& alt, const endpoint& mapped,
                       std::span<const endpoint> host, const registration_record& r) {
  return key == r.key && (reflexive == r.reflexive || (alt.port() != 0 && alt == r.reflexive)) &&
         mapped == r.mapped && std::ranges::equal(host, r.host());
}

// Transparent hashing so find(string_view) does not build a std::string.
struct id_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// One stored registration without its id (the id is the map's key). Host candidates live in
// an exactly sized array: most peers announce one or two, and a vector's capacity word and
// growth slack would be paid a million times over.
struct entry {
  public_key key{};
  endpoint reflexive;
  std::uint32_t nonce_time = 0;
  std::uint8_t host_count = 0;  // the node stays in malloc's 144-byte class
  std::uint8_t nat = 0;         // (in the padding before `host`)
  bool has_alt = false;         // a dual-stack peer's other reflexive follows the hosts
  bool has_mapped = false;      // a granted port mapping follows them
  bool unproven = false;        // registration_record::address_proven, inverted (still in the padding)
  // The host candidates, then (has_alt) the other family's reflexive address, then
  // (has_mapped) the mapped candidate.
  std::unique_ptr<endpoint[]> host;
  clock::time_point expires;

  std::span<const endpoint> hosts() const { return {host.get(), host_count}; }
  endpoint alt() const { return has_alt ? host[host_count] : endpoint{}; }
  endpoint mapped() const { return has_mapped ? host[host_count + (has_alt ? 1 : 0)] : endpoint{}; }
  // Reallocates only when the count changes: a keepalive refresh never allocates.
  void set_endpoints(std::span<const endpoint> h, const endpoint& reflexive_alt, const endpoint& mapped_ep) {
    const bool alt = reflexive_alt.port() != 0;
    const bool map = mapped_ep.port() != 0;
    const std::size_t n = h.size() + (alt ? 1 : 0) + (map ? 1 : 0);
    if (n != std::size_t{host_count} + (has_alt ? 1 : 0) + (has_mapped ? 1 : 0))
      host = n == 0 ? nullptr : std::make_unique<endpoint[]>(n);
    host_count = static_cast<std::uint8_t>(h.size());
    has_alt = alt;
    has_mapped = map;
    std::copy(h.begin(), h.end(), host.get());
    if (alt) host[host_count] = reflexive_alt;
    if (map) host[host_count + (alt ? 1 : 0)] = mapped_ep;
  }
};

class memory_registry final : public registry {
public:
  explicit memory_registry(std::size_t capacity) : capacity_(capacity) {
    // Bounded up front so a full registry never rehashes under load.
    map_.reserve(std::min<std::size_t>(capacity, 1024));
  }

  using registry::find;
  using registry::upsert;

  error_code upsert(const registration_record& r, clock::time_point now) override {
    if (auto it = map_.find(r.id()); it != map_.end()) {
      entry& e = it->second;
      // A live id belongs to the key that registered it (from wherever it moves); an expired
      // one is free.
      if (e.expires > now && e.key != r.key) return errc::id_taken;
      store(e, r);
      return {};
    }
    if (map_.size() >= capacity_) {
      expire(now, {});
      if (map_.size() >= capacity_) return errc::registry_full;
    }
    store(map_[std::string(r.id())], r);
    return {};
  }

  bool find(std::string_view id, clock::time_point now, registration_record& out) const override {
    auto it = map_.find(id);
    if (it == map_.end() || it->second.expires <= now) return false;
    const entry& e = it->second;
    out.set_id(it->first);
    out.key = e.key;
    out.reflexive = e.reflexive;
    out.reflexive_alt = e.alt();
    out.mapped = e.mapped();
    out.nonce_time = e.nonce_time;
    out.address_proven = !e.unproven;
    out.nat = e.nat;
    out.host_count = 0;
    for (const auto& h : e.hosts()) out.add_host(h);
    out.expires = e.expires;
    return true;
  }

  bool extend(const registration_record& r, clock::time_point now) override {
    auto it = map_.find(r.id());
    if (it == map_.end() || it->second.expires <= now) return false;
    entry& e = it->second;
    if (!same_registration(e.key, e.reflexive, e.alt(), e.mapped(), e.hosts(), r)) return false;
    e.expires = r.expires;
    e.nat = r.nat;
    e.unproven = e.unproven && !r.address_proven;  // a refresh by credential proves the address
    earliest_ = std::min(earliest_, r.expires);
    return true;
  }

  bool erase(std::string_view id) override {
    auto it = map_.find(id);
    if (it == map_.end()) return false;
    map_.erase(it);
    return true;
  }

  using registry::expire;
  std::size_t expire(clock::time_point now, const expired_handler& on_expired) override {
    // Nothing can have expired before the earliest expiry seen: skip the scan.
    if (now < earliest_) return 0;
    std::size_t dropped = 0;
    clock::time_point earliest = clock::time_point::max();
    for (auto it = map_.begin(); it != map_.end();) {
      if (it->second.expires <= now) {
        if (on_expired) on_expired(it->first, it->second.reflexive);
        it = map_.erase(it);
        ++dropped;
      } else {
        earliest = std::min(earliest, it->second.expires);
        ++it;
      }
    }
    earliest_ = earliest;
    return dropped;
  }

  std::size_t size() const override { return map_.size(); }

private:
  void store(entry& e, const registration_record& r) {
    e.key = r.key;
    e.reflexive = r.reflexive;
    e.nonce_time = r.nonce_time;
    e.unproven = !r.address_proven;
    e.nat = r.nat;
    e.set_endpoints(r.host(), r.reflexive_alt, r.mapped);
    e.expires = r.expires;
    earliest_ = std::min(earliest_, r.expires);
  }

  std::size_t capacity_;
  std::unordered_map<std::string, entry, id_hash, std::equal_to<>> map_;
  // A lower bound of every stored expiry (exact after a scan).
  clock::time_point earliest_ = clock::time_point::max();
};

// memory_registry stripes behind mutexes, chosen by the id's hash.
class shared_registry final : public registry {
public:
  shared_registry(std::size_t capacity, std::size_t stripes) : stripes_(std::max<std::size_t>(stripes, 1)) {
    const std::size_t each = (capacity + stripes_.size() - 1) / stripes_.size();
    for (auto& s : stripes_) s.reg = std::make_unique<memory_registry>(each);
  }

  using registry::find;
  using registry::upsert;

  error_code upsert(const registration_record& r, clock::time_point now) override {
    stripe& s = stripe_of(r.id());
    std::lock_guard lock(s.mutex);
    return s.reg->upsert(r, now);
  }
  bool find(std::string_view id, clock::time_point now, registration_record& out) const override {
    stripe& s = stripe_of(id);
    std::lock_guard lock(s.mutex);
    return s.reg->find(id, now, out);
  }
  bool extend(const registration_record& r, clock::time_point now) override {
    stripe& s = stripe_of(r.id());
    std::lock_guard lock(s.mutex);
    return s.reg->extend(r, now);
  }
  bool erase(std::string_view id) override {
    stripe& s = stripe_of(id);
    std::lock_guard lock(s.mutex);
    return s.reg->erase(id);
  }
  using registry::expire;
  std::size_t expire(clock::time_point now, const expired_handler& on_expired) override {
    std::size_t dropped = 0;
    for (auto& s : stripes_) {
      std::lock_guard lock(s.mutex);
      dropped += s.reg->expire(now, on_expired);
    }
    return dropped;
  }
  std::size_t size() const override {
    std::size_t n = 0;
    for (auto& s : stripes_) {
      std::lock_guard lock(s.mutex);
      n += s.reg->size();
    }
    return n;
  }

private:
  struct stripe {
    mutable std::mutex mutex;
    std::unique_ptr<memory_registry> reg;
  };
  stripe& stripe_of(std::string_view id) const { return stripes_[id_hash{}(id) % stripes_.size()]; }

  mutable std::vector<stripe> stripes_;
};

}  // namespace

error_code registry::upsert(const registration& r, clock::time_point now) {
  registration_record record;
  if (!record.set_id(r.id)) return errc::bad_attribute_value;
  for (const auto& h : r.host)
    if (!record.add_host(h)) return errc::bad_attribute_value;
  record.key = r.key;
  record.reflexive = r.reflexive;
  record.reflexive_alt = r.reflexive_alt;
  record.mapped = r.mapped;
  record.expires = r.expires;
  return upsert(record, now);
}

bool registry::extend(const registration_record& r, clock::time_point now) {
  registration_record stored;
  if (!find(r.id(), now, stored) ||
      !same_registration(stored.key, stored.reflexive, stored.reflexive_alt, stored.mapped, stored.host(), r))
    return false;
  stored.expires = r.expires;
  stored.nat = r.nat;
  return !upsert(stored, now);
}

std::optional<registration> registry::find(std::string_view id, clock::time_point now) const {
  registration_record record;
  if (!find(id, now, record)) return std::nullopt;
  return registration{std::string(record.id()), record.key, record.reflexive,
                      std::vector<endpoint>(record.host().begin(), record.host().end()), record.expires,
                      record.reflexive_alt, record.mapped};
}

std::unique_ptr<registry> make_memory_registry(std::size_t capacity) {
  return std::make_unique<memory_registry>(capacity);
}

std::unique_ptr<registry> make_shared_registry(std::size_t capacity, std::size_t stripes) {
  return std::make_unique<shared_registry>(capacity, stripes);
}

}  // namespace punch
