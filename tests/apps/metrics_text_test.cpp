// The servers' --metrics text without a process: the histogram's buckets, the
// exposition of every broker counter, the cluster's family only with a cluster, and the sum
// over threads.
#include "metrics.hpp"
#include "metrics_text.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

using namespace punch;
using namespace punch::broker_app;
using namespace std::chrono_literals;

namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(server_metrics)

BOOST_AUTO_TEST_CASE(a_duration_on_a_bound_counts_in_that_bucket_and_the_exposition_is_cumulative) {
  duration_histogram h;
  h.record(1000ns);     // on the first bound: in it (le is "less or equal")
  h.record(1001ns);     // just over: the next
  h.record(1s);         // over every bound: +Inf only
  h.record(-5ns);       // a clock that stepped back counts as 0
  BOOST_TEST(h.counts[0] == 2u);
  BOOST_TEST(h.counts[1] == 1u);
  BOOST_TEST(h.counts.back() == 1u);
  BOOST_TEST(h.count == 4u);
  BOOST_TEST(h.sum_ns == 1'000'002'001u);
  apps::metrics_text out;
  out.histogram("x_seconds", "help", h);
  const std::string& t = out.text();
  BOOST_TEST(has_line(t, "# TYPE x_seconds histogram"), t);
  BOOST_TEST(has_line(t, "x_seconds_bucket{le=\"1e-06\"} 2"), t);
  BOOST_TEST(has_line(t, "x_seconds_bucket{le=\"2.5e-06\"} 3"), t);
  BOOST_TEST(has_line(t, "x_seconds_bucket{le=\"0.025\"} 3"), t);
  BOOST_TEST(has_line(t, "x_seconds_bucket{le=\"+Inf\"} 4"), t);
  BOOST_TEST(has_line(t, "x_seconds_sum 1.000002001"), t);
  BOOST_TEST(has_line(t, "x_seconds_count 4"), t);
}

BOOST_AUTO_TEST_CASE(label_values_and_help_are_escaped) {
  apps::metrics_text out;
  out.counters("y_total", "a \\ b\nc", "kind", {{"say \"hi\"\n", 3}});
  BOOST_TEST(out.text() == "# HELP y_total a \\\\ b\\nc\n# TYPE y_total counter\ny_total{kind=\"say \\\"hi\\\"\\n\"} 3\n");
}

BOOST_AUTO_TEST_CASE(every_broker_counter_is_exposed_with_its_kind_and_reason_series) {
  broker_sample s;
  s.stats.received = 11;
  s.stats.bindings = 5;
  s.stats.register_requests = 4;
  s.stats.lookups = 3;
  s.stats.connects = 2;
  s.stats.rate_limited = 7;
  s.stats.malformed = 1;
  s.stats.introductions_failed = 9;
  s.stats.errors_sent = 13;
  s.stats.handling.record(3us);
  s.registrations = 42;
  const std::string t = metrics_text_of(s);
  for (const char* line : {"punch_broker_received_total 11", "punch_broker_bindings_total 5",
                           "punch_broker_introductions_failed_total 9", "punch_broker_errors_sent_total 13",
                           "punch_broker_requests_total{kind=\"binding\"} 5",
                           "punch_broker_requests_total{kind=\"register\"} 4",
                           "punch_broker_requests_total{kind=\"lookup\"} 3",
                           "punch_broker_requests_total{kind=\"connect\"} 2",
                           "punch_broker_dropped_total{reason=\"rate_limited\"} 7",
                           "punch_broker_dropped_total{reason=\"malformed\"} 1", "punch_broker_registrations 42",
                           "punch_broker_request_duration_seconds_bucket{le=\"5e-06\"} 1",
                           "punch_broker_request_duration_seconds_count 1",
                           "# TYPE punch_broker_received_total counter", "# TYPE punch_broker_registrations gauge"})
    BOOST_TEST(has_line(t, line), line);
  // No cluster: no cluster family (an alert on cluster_up == 0 must not fire without one).
  BOOST_TEST(t.find("punch_broker_cluster") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_cluster_adds_its_state_and_counters) {
  broker_sample s;
  s.cluster = cluster_stats{};
  s.cluster->state = cluster_state::down;
  s.cluster->failed = 6;
  s.cluster->reconnects = 2;
  std::string t = metrics_text_of(s);
  BOOST_TEST(has_line(t, "punch_broker_cluster_up 0"), t);
  BOOST_TEST(has_line(t, "punch_broker_cluster_failed_total 6"), t);
  BOOST_TEST(has_line(t, "punch_broker_cluster_reconnects_total 2"), t);
  s.cluster->state = cluster_state::up;
  t = metrics_text_of(s);
  BOOST_TEST(has_line(t, "punch_broker_cluster_up 1"), t);
}

BOOST_AUTO_TEST_CASE(the_threads_counters_and_histograms_add_up) {
  broker_stats a, b;
  a.bindings = 2;
  b.bindings = 3;
  a.errors_sent = 1;
  b.refreshes = 4;
  a.handling.record(2us);
  b.handling.record(2us);
  b.handling.record(1ms);
  add_stats(a, b);
  BOOST_TEST(a.bindings == 5u);
  BOOST_TEST(a.errors_sent == 1u);
  BOOST_TEST(a.refreshes == 4u);
  BOOST_TEST(a.handling.count == 3u);
  BOOST_TEST(a.handling.counts[1] == 2u);
  BOOST_TEST(a.handling.sum_ns == 1'004'000u);
}

BOOST_AUTO_TEST_SUITE_END()
