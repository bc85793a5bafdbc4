// The process's own metrics, as Prometheus client libraries name them: start time, resident
// memory, CPU time and open file descriptors, read from /proc/self at each scrape (a few
// small reads, on the metrics thread). Nothing is written where /proc is absent.
#pragma once

#include "metrics_text.hpp"

namespace punch::apps {

void add_process_metrics(metrics_text& out);

}  // namespace punch::apps
