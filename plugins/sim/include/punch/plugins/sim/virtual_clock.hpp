// Virtual time for the simulated network: a punch::clock whose now() moves only when told to,
// and whose timers fire in time order as it moves. sim::run (simulation.hpp) moves it whenever
// nothing else is ready, so a test waits no real time for a timeout, a retransmission or a
// mapping's expiry, and runs the same every time with the same seed.
#pragma once

#include "punch/clock.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>

namespace punch::sim {

class virtual_clock final : public punch::clock {
public:
  // Starts at `start`; the default is one hour after the steady clock's epoch, so that a
  // time point of zero still reads as "long ago" (never, unset) to the code under test.
  explicit virtual_clock(time_point start = time_point{} + std::chrono::hours(1));
  // Pending waits are dropped (their handlers destroyed, not called): destroy the clock after
  // everything that waits on it has finished, or with the io_context.
  ~virtual_clock() override;

  time_point now() const noexcept override { return now_; }

  // The earliest pending wait's expiry; nullopt when nothing waits.
  std::optional<time_point> next_expiry() const;
  // Moves now() to `t` (never back: an earlier `t` is ignored) and completes every wait due
  // by then, earliest first and in the order they were started when due at once. Completions
  // are posted to their executors, not run here.
  void advance_to(time_point t);
  void advance(duration d) { advance_to(now_ + d); }
  std::size_t pending() const noexcept { return waits_.size(); }

protected:
  void wait(timer& t, time_point at, wait_handler done, const asio::any_io_executor& ex) override;
  std::size_t cancel(timer& t) noexcept override;

private:
  struct pending_wait {
    timer* owner;
    wait_handler handler;
    asio::any_io_executor work;  // tracks outstanding work while the wait pends
  };
  using queue = std::multimap<time_point, pending_wait>;
  // Runs on the handler's cancellation slot: completes that one wait.
  struct cancel_one;

  void complete(queue::iterator it, error_code ec) noexcept;

  time_point now_;
  queue waits_;  // equal keys keep insertion order: ties complete first-come first-served
  std::unordered_multimap<const timer*, queue::iterator> by_timer_;
};

}  // namespace punch::sim
