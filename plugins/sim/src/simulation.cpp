// The discrete-event driver: poll one ready handler at a time; when none is ready, advance the
// virtual clock to its earliest pending wait.
#include "punch/plugins/sim/simulation.hpp"

namespace punch::sim {

const char* to_string(run_outcome o) noexcept {
  switch (o) {
    case run_outcome::done: return "done";
    case run_outcome::out_of_work: return "out of work";
    case run_outcome::stuck: return "stuck: nothing ready and no timer pending";
    case run_outcome::step_limit: return "step limit reached";
    case run_outcome::time_limit: return "virtual time limit reached";
  }
  return "unknown";
}

run_result run(boost::asio::io_context& ctx, virtual_clock& time, const std::function<bool()>& until,
               const run_limits& limits) {
  const auto start = time.now();
  run_result r;
  const auto finish = [&](run_outcome o) {
    r.outcome = o;
    r.elapsed = time.now() - start;
    return r;
  };
  for (;;) {
    if (until && until()) return finish(run_outcome::done);
    if (ctx.stopped()) return finish(run_outcome::out_of_work);
    if (r.steps >= limits.steps) return finish(run_outcome::step_limit);
    // One handler at a time, so that until() is checked between any two of them.
    if (ctx.poll_one() != 0) {
      ++r.steps;
      continue;
    }
    if (ctx.stopped()) return finish(run_outcome::out_of_work);
    const auto next = time.next_expiry();
    if (!next) return finish(run_outcome::stuck);
    if (*next - start > limits.time) return finish(run_outcome::time_limit);
    time.advance_to(*next);
  }
}

}  // namespace punch::sim
