// The process's own metrics from /proc (see process_metrics.hpp).
#include "process_metrics.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace punch::apps {
namespace {

// The fields of /proc/self/stat after the command name (which may hold spaces and
// parentheses, so the text is split after its last ')'): fields[0] is field 3, "state".
std::vector<std::string> stat_fields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return {};
  const auto close = line.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(line.substr(close + 1));
  return {std::istream_iterator<std::string>(rest), std::istream_iterator<std::string>()};
}

// The boot time in seconds since the epoch (/proc/stat's btime), or 0.
double boot_time() {
  std::ifstream in("/proc/stat");
  for (std::string key; in >> key;) {
    if (key == "btime") {
      double t = 0;
      in >> t;
      return t;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

}  // namespace

void add_process_metrics(metrics_text& out) {
  const auto fields = stat_fields();
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  // proc(5): utime is field 14, stime 15, starttime 22, rss 24 (in pages).
  if (fields.size() >= 22 && ticks > 0) {
    const double cpu = (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
    out.gauge("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds.",
              boot_time() + std::stod(fields[19]) / ticks);
    out.gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
              std::stod(fields[21]) * static_cast<double>(sysconf(_SC_PAGESIZE)));
    out.counter_seconds("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", cpu);
  }
  std::error_code ec;
  std::size_t fds = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) ++fds;
  if (!ec) out.gauge("process_open_fds", "Number of open file descriptors.", static_cast<double>(fds));
}

}  // namespace punch::apps
