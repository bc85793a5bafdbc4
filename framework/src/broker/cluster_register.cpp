// The broker's registrations in the cluster (docs/deployment.md, "How brokers share a
// registry"): a Register that creates or changes a registration claims its id in the cluster
// before it is answered, so that an id's key binding holds across brokers; the store's state,
// reported once per change; and, when the store comes back up (it may have lost everything),
// the claim of every live registration held here again, a batch at a time.
#include "broker/broker_state.hpp"

namespace punch {

using namespace detail;

std::span<const std::byte> broker::impl::claim(const request& r, const registration_record& entry,
                                               std::chrono::seconds lifetime, bool refresh) {
  // The store down: this broker serves its own peers alone, and claims them when it is back.
  if (link->state != cluster_state::up) {
    ++stats.claims_local;
    registration_record& local = found_a;
    if (&local != &entry) local = entry;
    return accept_registration(r, local, lifetime, refresh);
  }
  std::span<const std::byte> refusal;
  auto w = wait_for_cluster(r, refusal);
  if (!w) return refusal;
  ++stats.claims;
  auto record = std::make_shared<registration_record>(entry);
  link->claiming.emplace(entry.id());
  link->store.claim(entry, lifetime, [this, alive = std::weak_ptr<int>(link->alive), w, record, lifetime,
                                      refresh](error_code ec) {
    if (alive.expired()) return;
    if (auto it = link->claiming.find(record->id()); it != link->claiming.end()) link->claiming.erase(it);
    answer_waiting(*w, [&](const request& q) -> std::span<const std::byte> {
      if (ec == asio::error::operation_aborted) return {};
      if (ec == errc::id_taken) {
        ++stats.claims_refused;
        return error(q, wire::error::forbidden, "PEER-ID held by another key");
      }
      if (ec == errc::cluster_overloaded) {
        ++stats.cluster_busy;
        return error(q, wire::error::rate_limited, "cluster busy");
      }
      // The store went down meanwhile: the peer is served from here, and claimed when it is back.
      if (ec) ++stats.claims_local;
      return accept_registration(q, *record, lifetime, refresh);
    });
  });
  return {};
}

void broker::impl::hold(std::string_view id) {
  // Allocates for a new id only: a refresh finds it.
  if (!link->held.contains(id)) link->held.emplace(id);
}

void broker::impl::on_store_state(cluster_state s) {
  const cluster_state before = link->state;
  link->state = s;
  stats.store = s;
  if (s == before) return;
  // Claims of an older round are ignored from now on: the re-claim starts over when it is up.
  ++link->round;
  link->reclaim.clear();
  link->reclaim_next = 0;
  link->reclaim_in_flight = 0;
  if (s == cluster_state::down) {
    ++stats.store_downs;
    emit({.what = broker_event::kind::store_down, .id = link->store.name(), .target = {}, .address = {}});
    return;
  }
  if (s != cluster_state::up) return;
  // Up for the first time, or back: the store may hold none of our peers.
  if (before == cluster_state::down)
    emit({.what = broker_event::kind::store_up, .id = link->store.name(), .target = {}, .address = {}});
  link->reclaim.assign(link->held.begin(), link->held.end());
  reclaim_batch(link->round);
}

void broker::impl::reclaim_batch(std::uint64_t round) {
  if (round != link->round) return;
  const auto at = now();
  while (link->reclaim_in_flight < std::max<std::size_t>(options.reclaim_batch, 1) &&
         link->reclaim_next < link->reclaim.size()) {
    const std::string& id = link->reclaim[link->reclaim_next++];
    registration_record& record = found_b;
    if (!reg.find(id, at, record)) continue;  // expired: expire() forgets it
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(record.expires - at);
    if (left <= std::chrono::milliseconds::zero()) continue;
    ++link->reclaim_in_flight;
    ++stats.reclaims;
    link->store.claim(record, left, [this, alive = std::weak_ptr<int>(link->alive), round, key = record.key,
                                     id = std::string(id)](error_code ec) {
      if (alive.expired() || round != link->round) return;
      --link->reclaim_in_flight;
      if (ec == errc::id_taken) {
        // Another key registered the id at another broker while the store was down, and
        // claimed it first: the cluster's binding wins. Our peer's next refresh is refused and
        // its signed Register then learns id_taken.
        ++stats.reclaims_refused;
        registration_record& current = found_b;
        if (reg.find(id, now(), current) && current.key == key) {
          reg.erase(id);
          link->forget(id);
        }
      }
      if (link->reclaim_in_flight == 0) reclaim_batch(round);
    });
  }
  if (link->reclaim_in_flight == 0 && link->reclaim_next >= link->reclaim.size()) {
    link->reclaim.clear();
    link->reclaim.shrink_to_fit();
  }
}

}  // namespace punch
