// punch-bench's report on the register-spoofed runs (issue 18, "cookie mode under load"): the
// broker's CPU per spoofed Register against its CPU per Binding in the same interleaved run
// (target ≤ 2×), what it verified, and how the honest peer registering meanwhile fared.
#pragma once

#include "honest_client.hpp"
#include "report.hpp"

#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace punch::bench {

// Adds one run's results of the honest peer to `total`.
void add_to(honest_result& total, const honest_result& run);
// For each target with binding and register-spoofed runs: req/cpu-s of Binding ÷ that of the
// spoofed Register (= CPU per spoofed Register ÷ CPU per Binding), each round's and their
// median, judged against 2×; and `honest`'s registrations at that target.
void print_cookie(std::ostream& out, const std::vector<median_record>& m, const std::vector<run_record>& runs,
                  const std::map<std::string, honest_result>& honest);
// True if the honest peer tried at every target and every registration succeeded; says what
// failed otherwise.
bool honest_check(std::ostream& out, const std::map<std::string, honest_result>& honest);

}  // namespace punch::bench
