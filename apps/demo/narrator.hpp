// Prints the demo's story: network events and the peers' own lines, both stamped with the
// network's elapsed time in milliseconds.
#pragma once

#include "punch/plugins/sim/network.hpp"

#include <chrono>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>

namespace punch_demo {

class narrator {
public:
  narrator(std::ostream& out, const punch::sim::network& net)
      : out_(out), net_(net) {}

  // A decision of the network (mapping, filtering, delivery, ...), indented under the story.
  void event(const punch::sim::event& e) const {
    stamp(e.at);
    out_ << "    " << e << '\n';
  }

  void say(std::string_view line) const {
    stamp(net_.elapsed());
    out_ << line << '\n';
  }

  void section(std::string_view title) const { out_ << "\n== " << title << '\n'; }

  std::ostream& out() const { return out_; }

private:
  void stamp(std::chrono::nanoseconds t) const {
    const double ms = std::chrono::duration<double, std::milli>(t).count();
    out_ << '[' << std::right << std::fixed << std::setprecision(3) << std::setw(9) << ms << " ms] ";
  }

  std::ostream& out_;
  const punch::sim::network& net_;
};

// "198.51.100.1:5000"
inline std::string text(const punch::endpoint& ep) {
  std::ostringstream out;
  out << ep;
  return out.str();
}

}  // namespace punch_demo
