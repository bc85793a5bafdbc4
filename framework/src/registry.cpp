// The in-memory registry: a hash map from peer id to registration, bounded in size.
#include "punch/registry.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <unordered_map>

namespace punch {
namespace {

using clock = std::chrono::steady_clock;

// Transparent hashing so find(string_view) does not build a std::string.
struct id_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// One stored registration without its id (the id is the map's key). Host candidates live in
// an exactly sized array: most peers announce one or two, and a vector's capacity word and
// growth slack would be paid a million times over.
struct entry {
  endpoint reflexive;
  std::uint8_t host_count = 0;  // fits in the endpoint's tail padding
  std::unique_ptr<endpoint[]> host;
  clock::time_point expires;

  void set_host(const std::vector<endpoint>& h) {
    if (h.size() != host_count) {
      host = h.empty() ? nullptr : std::make_unique<endpoint[]>(h.size());
      host_count = static_cast<std::uint8_t>(h.size());
    }
    std::copy(h.begin(), h.end(), host.get());
  }
};

class memory_registry final : public registry {
public:
  explicit memory_registry(std::size_t capacity) : capacity_(capacity) {
    // Bounded up front so a full registry never rehashes under load.
    map_.reserve(std::min<std::size_t>(capacity, 1024));
  }

  error_code upsert(const registration& r, clock::time_point now) override {
    if (r.host.size() > 255) return errc::bad_attribute_value;
    if (auto it = map_.find(std::string_view{r.id}); it != map_.end()) {
      entry& e = it->second;
      // A live id belongs to the endpoint that registered it; an expired one is free.
      if (e.expires > now && e.reflexive != r.reflexive) return errc::id_taken;
      store(e, r);
      return {};
    }
    if (map_.size() >= capacity_) {
      expire(now, {});
      if (map_.size() >= capacity_) return errc::registry_full;
    }
    store(map_[r.id], r);
    return {};
  }

  std::optional<registration> find(std::string_view id, clock::time_point now) const override {
    auto it = map_.find(id);
    if (it == map_.end() || it->second.expires <= now) return std::nullopt;
    const entry& e = it->second;
    return registration{it->first, e.reflexive,
                        std::vector<endpoint>(e.host.get(), e.host.get() + e.host_count),
                        e.expires};
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
  void store(entry& e, const registration& r) {
    e.reflexive = r.reflexive;
    e.set_host(r.host);
    e.expires = r.expires;
    earliest_ = std::min(earliest_, r.expires);
  }

  std::size_t capacity_;
  std::unordered_map<std::string, entry, id_hash, std::equal_to<>> map_;
  // A lower bound of every stored expiry (exact after a scan).
  clock::time_point earliest_ = clock::time_point::max();
};

}  // namespace

std::unique_ptr<registry> make_memory_registry(std::size_t capacity) {
  return std::make_unique<memory_registry>(capacity);
}

}  // namespace punch
