// punch-relay's metrics (see metrics.hpp).
#include "metrics.hpp"

#include "metrics_http.hpp"
#include "metrics_text.hpp"
#include "process_metrics.hpp"

#include <cstdint>

namespace punch::relay_app {
namespace {

// Every counter of relay_stats, once.
constexpr apps::counter_field<relay_stats> counters[] = {
    {"punch_relay_received_total", "Datagrams received.", &relay_stats::received},
    {"punch_relay_allocations_total", "Allocations created (a first side).", &relay_stats::allocations},
    {"punch_relay_pairs_total", "Allocations completed by a second side.", &relay_stats::pairs},
    {"punch_relay_refreshes_total", "ALLOCATE from a side already in its allocation.", &relay_stats::refreshes},
    {"punch_relay_expired_total", "Allocations dropped after their idle lifetime.", &relay_stats::expired},
    {"punch_relay_forwarded_total", "Datagrams sent on to the other side.", &relay_stats::forwarded},
    {"punch_relay_forwarded_bytes_total", "Bytes of the datagrams sent on to the other side.",
     &relay_stats::forwarded_bytes},
    {"punch_relay_dropped_unknown_total", "Datagrams from a source in no allocation.", &relay_stats::dropped_unknown},
    {"punch_relay_dropped_unpaired_total", "Datagrams from a side whose other side has not allocated yet.",
     &relay_stats::dropped_unpaired},
    {"punch_relay_rate_limited_total", "Datagrams over their side's token bucket.", &relay_stats::rate_limited},
    {"punch_relay_allocate_rate_limited_total", "ALLOCATE requests over their source address's bucket.",
     &relay_stats::allocate_rate_limited},
    {"punch_relay_challenges_total", "401 and 438 answers (each with a fresh NONCE).", &relay_stats::challenges},
    {"punch_relay_rejected_total", "403 (allocation full, source elsewhere) and 508 answers.", &relay_stats::rejected},
    {"punch_relay_takeovers_total", "A new source took a quiet side's place (a peer moved).", &relay_stats::takeovers},
    {"punch_relay_bad_requests_total", "400 and 420 answers.", &relay_stats::bad_requests},
    {"punch_relay_unanswered_total", "ALLOCATE not valid STUN, or too small for any answer.",
     &relay_stats::unanswered},
    {"punch_relay_oversized_total", "Datagrams that may have been truncated: dropped.", &relay_stats::oversized},
};
// A counter added to relay_stats and not to the table would not be exposed.
static_assert(sizeof(relay_stats) == std::size(counters) * sizeof(std::uint64_t) + sizeof(duration_histogram),
              "every relay_stats counter has its line in `counters`");

}  // namespace

std::string metrics_text_of(const relay_sample& s) {
  apps::metrics_text out;
  apps::add_counters(out, counters, s.stats);
  const relay_stats& r = s.stats;
  out.counters("punch_relay_dropped_total", "Datagrams dropped unforwarded and unanswered, by reason.", "reason",
               {{"unknown", r.dropped_unknown},
                {"unpaired", r.dropped_unpaired},
                {"rate_limited", r.rate_limited},
                {"allocate_rate_limited", r.allocate_rate_limited},
                {"unanswered", r.unanswered},
                {"oversized", r.oversized}});
  out.gauge("punch_relay_allocations", "Allocations held now.", static_cast<double>(s.allocations));
  out.histogram("punch_relay_request_duration_seconds",
                "Time the relay took to handle each datagram, from the serve loop.", r.handling);
  apps::add_process_metrics(out);
  return out.take();
}

asio::awaitable<relay_sample> sample(const relay& r, asio::any_io_executor ex) {
  co_return co_await apps::read_on(ex, [&r] { return relay_sample{r.stats(), r.allocations()}; });
}

}  // namespace punch::relay_app
