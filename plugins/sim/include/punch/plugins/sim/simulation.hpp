// Runs an io_context as a discrete-event simulation on a virtual clock: every ready handler
// runs, and when none is ready, virtual time jumps to the earliest pending timer, which fires.
// Real time does not pass while the code under test waits, and a run repeats exactly.
//
//   sim::network net(ctx.get_executor(), seed);          // its clock is virtual
//   bool done = false;
//   co_spawn(ctx, scenario(), [&](std::exception_ptr) { done = true; });
//   auto r = sim::run(ctx, net.virtual_time(), [&] { return done; });
//   BOOST_TEST(r.outcome == sim::run_outcome::done);
//   BOOST_TEST(r.elapsed < 2s);                           // virtual: exact and repeatable
#pragma once

#include "punch/plugins/sim/virtual_clock.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>

namespace punch::sim {

// Bounds of one run, so that a scenario that never ends fails instead of hanging.
struct run_limits {
  std::uint64_t steps = 50'000'000;                  // handlers run, at most
  virtual_clock::duration time = std::chrono::hours(24);  // virtual time, at most
};

enum class run_outcome {
  done,         // until() became true
  out_of_work,  // the io_context has nothing left to do (it is stopped)
  stuck,        // nothing is ready and no timer is pending: it would wait forever
  step_limit,   // run_limits::steps handlers ran
  time_limit,   // the next timer is beyond run_limits::time
};
const char* to_string(run_outcome o) noexcept;

struct run_result {
  run_outcome outcome = run_outcome::done;
  std::uint64_t steps = 0;            // handlers run
  virtual_clock::duration elapsed{};  // virtual time that passed
};

// Runs `ctx` on `time` until `until()` is true (checked before each handler; empty: never),
// or one of the other outcomes. `ctx` must be run by this thread only while it runs; it may
// be restarted and run again afterwards.
run_result run(boost::asio::io_context& ctx, virtual_clock& time, const std::function<bool()>& until = {},
               const run_limits& limits = {});

}  // namespace punch::sim
