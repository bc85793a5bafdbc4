// punch-broker's metrics (see metrics.hpp).
#include "metrics.hpp"

#include "metrics_http.hpp"
#include "metrics_text.hpp"
#include "process_metrics.hpp"

#include <cstdint>

namespace punch::broker_app {
namespace {

// Every counter of broker_stats, once: what is summed over threads and what is exposed.
constexpr apps::counter_field<broker_stats> counters[] = {
    {"punch_broker_received_total", "Datagrams received, the rate-limited ones included.", &broker_stats::received},
    {"punch_broker_batches_total", "Receive operations that brought them (received / batches: the mean batch).",
     &broker_stats::batches},
    {"punch_broker_rate_limited_total", "Datagrams dropped unread: their source address was over its rate.",
     &broker_stats::rate_limited},
    {"punch_broker_malformed_total", "Datagrams dropped: not a valid STUN message.", &broker_stats::malformed},
    {"punch_broker_bindings_total", "Binding requests.", &broker_stats::bindings},
    {"punch_broker_register_requests_total", "Register requests, answered with success or not.",
     &broker_stats::register_requests},
    {"punch_broker_registrations_total", "Successful Registers (new or refresh, signed or by credential).",
     &broker_stats::registrations},
    {"punch_broker_refreshes_total", "Successful Registers by REFRESH-CREDENTIAL (no signature).",
     &broker_stats::refreshes},
    {"punch_broker_signatures_verified_total", "Ed25519 verifications of Register signatures, failed ones too.",
     &broker_stats::signatures_verified},
    {"punch_broker_challenges_total", "401 and 438 answers to Register (each with a NONCE).",
     &broker_stats::challenges},
    {"punch_broker_auth_failed_total", "Registers with a good NONCE or TIMESTAMP whose signature did not verify.",
     &broker_stats::auth_failed},
    {"punch_broker_first_datagram_total", "Registers taken on their TIMESTAMP, without the NONCE round trip.",
     &broker_stats::first_datagram},
    {"punch_broker_stale_timestamps_total", "Timestamped Registers outside the window (challenged).",
     &broker_stats::stale_timestamps},
    {"punch_broker_replays_total", "Timestamped Registers seen before, from another address (challenged).",
     &broker_stats::replays},
    {"punch_broker_cookie_challenges_total",
     "Timestamped Registers challenged unverified: busy (cookie mode) or the replay cache full.",
     &broker_stats::cookie_challenges},
    {"punch_broker_lookups_total", "Lookup requests.", &broker_stats::lookups},
    {"punch_broker_connects_total", "Connect requests.", &broker_stats::connects},
    {"punch_broker_introductions_total", "Introduce exchanges started (one per Connect).",
     &broker_stats::introductions},
    {"punch_broker_introductions_acked_total", "Introduce exchanges the target acknowledged.",
     &broker_stats::introductions_acked},
    {"punch_broker_introductions_failed_total", "Introduce exchanges never acknowledged, or answered with an error.",
     &broker_stats::introductions_failed},
    {"punch_broker_introductions_unproven_total",
     "Introductions to a target that registered on its first datagram and had not refreshed yet: retransmitted only once it has.",
     &broker_stats::introductions_unproven},
    {"punch_broker_errors_sent_total", "Error answers of every kind, challenges included.",
     &broker_stats::errors_sent},
};
// The counters of a broker of a cluster (broker_options::cluster), exposed only for one.
constexpr apps::counter_field<broker_stats> cluster_counters[] = {
    {"punch_broker_store_downs_total", "Times the cluster's store went down.", &broker_stats::store_downs},
    {"punch_broker_claims_total", "Registers that claimed their id in the cluster.", &broker_stats::claims},
    {"punch_broker_claims_refused_total", "Claims refused: the id is live under another key.",
     &broker_stats::claims_refused},
    {"punch_broker_claims_local_total", "Registers accepted locally alone: the store was down.",
     &broker_stats::claims_local},
    {"punch_broker_reclaims_total", "Registrations claimed again after the store came back.", &broker_stats::reclaims},
    {"punch_broker_reclaims_refused_total", "Re-claims refused: another key took the id meanwhile.",
     &broker_stats::reclaims_refused},
    {"punch_broker_cluster_lookups_total", "Lookups and Connects of ids not held here, asked of the cluster.",
     &broker_stats::cluster_lookups},
    {"punch_broker_cluster_misses_total", "Of those, ids found nowhere.", &broker_stats::cluster_misses},
    {"punch_broker_remote_connects_total", "Connects answered for a peer held by another broker.",
     &broker_stats::remote_connects},
    {"punch_broker_introductions_forwarded_total", "Introduces handed to the broker holding their target.",
     &broker_stats::introductions_forwarded},
    {"punch_broker_introductions_taken_total", "Introduces other brokers handed to this one (sent from here).",
     &broker_stats::introductions_taken},
    {"punch_broker_store_unavailable_total", "503 answers: a peer not held here while the store is down.",
     &broker_stats::store_unavailable},
    {"punch_broker_cluster_busy_total", "429 answers: too many requests already waiting for the cluster.",
     &broker_stats::cluster_busy},
};
// A counter added to broker_stats and not to a table would be neither summed nor exposed.
// Besides the counters: `store` (a cluster_state, padded to 8 bytes; the cluster's own stats
// give it as punch_broker_cluster_up), `cluster_waiting` (a gauge) and the histogram.
static_assert(sizeof(broker_stats) == (std::size(counters) + std::size(cluster_counters) + 2) * sizeof(std::uint64_t) +
                                          sizeof(duration_histogram),
              "every broker_stats counter has its line in `counters` or `cluster_counters`");

void add_cluster(apps::metrics_text& out, const cluster_stats& c) {
  out.gauge("punch_broker_cluster_up", "1 while the cluster's store (Redis) is reachable, else 0.",
            c.state == cluster_state::up ? 1 : 0);
  out.counter("punch_broker_cluster_claims_total", "Registrations claimed in the cluster.", c.claims);
  out.counter("punch_broker_cluster_claim_conflicts_total", "Claims refused: the id is live under another key.",
              c.claim_conflicts);
  out.counter("punch_broker_cluster_extends_total", "Refreshes that reached the store.", c.extends);
  out.counter("punch_broker_cluster_extends_skipped_total", "Refreshes absorbed (the entry was fresh enough).",
              c.extends_skipped);
  out.counter("punch_broker_cluster_finds_total", "Lookups of peers in the cluster.", c.finds);
  out.counter("punch_broker_cluster_find_misses_total", "Lookups in the cluster that found no live entry.",
              c.find_misses);
  out.counter("punch_broker_cluster_introductions_sent_total", "Introductions passed to the broker holding the target.",
              c.introductions_sent);
  out.counter("punch_broker_cluster_introductions_received_total", "Introductions other brokers passed to this one.",
              c.introductions_received);
  out.counter("punch_broker_cluster_failed_total", "Cluster operations that failed: the store was unavailable.",
              c.failed);
  out.counter("punch_broker_cluster_dropped_total", "Cluster operations refused: too many in flight.", c.dropped);
  out.counter("punch_broker_cluster_reconnects_total", "Connections to the store re-established.", c.reconnects);
}

}  // namespace

void add_stats(broker_stats& into, const broker_stats& more) {
  for (const auto& c : counters) into.*c.member += more.*c.member;
  for (const auto& c : cluster_counters) into.*c.member += more.*c.member;
  into.cluster_waiting += more.cluster_waiting;
  into.handling += more.handling;
}

std::string metrics_text_of(const broker_sample& s) {
  apps::metrics_text out;
  apps::add_counters(out, counters, s.stats);
  out.counters("punch_broker_requests_total", "Requests by kind (the same counts as the kinds' own counters).",
               "kind",
               {{"binding", s.stats.bindings},
                {"register", s.stats.register_requests},
                {"lookup", s.stats.lookups},
                {"connect", s.stats.connects}});
  out.counters("punch_broker_dropped_total", "Datagrams dropped unanswered, by reason.", "reason",
               {{"rate_limited", s.stats.rate_limited}, {"malformed", s.stats.malformed}});
  out.gauge("punch_broker_registrations", "Registrations held now (the registry's size).",
            static_cast<double>(s.registrations));
  out.histogram("punch_broker_request_duration_seconds",
                "Time the broker took to handle each datagram, from the serve loop.", s.stats.handling);
  if (s.cluster) {
    add_cluster(out, *s.cluster);
    apps::add_counters(out, cluster_counters, s.stats);
    out.gauge("punch_broker_cluster_waiting", "Requests waiting for the cluster's answer now.",
              static_cast<double>(s.stats.cluster_waiting));
  }
  apps::add_process_metrics(out);
  return out.take();
}

asio::awaitable<broker_sample> sample(std::vector<broker_on> brokers, const registry& reg, const cluster* c) {
  broker_sample s;
  for (const auto& on : brokers)
    add_stats(s.stats, co_await apps::read_on(on.ex, [b = on.b] { return b->stats(); }));
  const auto& first = brokers.front().ex;
  s.registrations = co_await apps::read_on(first, [&reg] { return reg.size(); });
  if (c) s.cluster = co_await apps::read_on(first, [c] { return c->stats(); });
  co_return s;
}

}  // namespace punch::broker_app
