// Injectable time: a clock (now() and timers) that the session, the broker and the relay take
// from their options, so that tests run them on the simulated network's virtual clock.
//
//   punch::timer t(ex, options.clock ? *options.clock : punch::steady_clock());
//   t.expires_after(200ms);
//   co_await t.async_wait(asio::use_awaitable);   // any completion token; `||` cancels it
//
// The default, punch::steady_clock(), is std::chrono::steady_clock with asio's steady_timer
// underneath: a timer on it costs one branch more than asio::steady_timer and allocates no
// more. Any other clock implements wait() and cancel() (sim::virtual_clock does).
#pragma once

#include "punch/export.hpp"

#include "punch/error.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <utility>

namespace punch {

namespace asio = boost::asio;

class timer;

// A source of time. Its time points are std::chrono::steady_clock's type whatever the clock,
// so that deadlines and registries keep one type; only their meaning (real or virtual) differs.
class PUNCH_EXPORT clock {
public:
  using duration = std::chrono::steady_clock::duration;
  using time_point = std::chrono::steady_clock::time_point;
  using wait_handler = asio::any_completion_handler<void(error_code)>;

  clock() = default;
  clock(const clock&) = delete;
  clock& operator=(const clock&) = delete;
  virtual ~clock();

  virtual time_point now() const noexcept = 0;

protected:
  friend class timer;
  // Completes `done` once now() reaches `at` (at once, posted, if it has), or with
  // asio::error::operation_aborted when cancel(t) is called or done's cancellation slot
  // emits. Never inside this call: through done's associated executor, else `ex`, and the
  // wait counts as outstanding work of `ex` while it pends. `t` outlives the wait (its
  // destructor cancels).
  virtual void wait(timer& t, time_point at, wait_handler done, const asio::any_io_executor& ex) = 0;
  // Completes every pending wait of `t` with operation_aborted; returns how many.
  virtual std::size_t cancel(timer& t) noexcept = 0;
};

// The real clock (std::chrono::steady_clock), shared by everything that is not given another.
PUNCH_EXPORT clock& steady_clock() noexcept;

// Wall-clock time (UTC) as `c` tells it: the system clock for steady_clock(); for any other
// clock (the simulated network's, a test's), a fixed date (2026-01-01) plus c.now()'s time
// since its epoch, so that everything on one virtual clock agrees on it and a run repeats
// exactly. A Register's TIMESTAMP is read from it (docs/protocol.md, "TIMESTAMP").
PUNCH_EXPORT std::chrono::system_clock::time_point wall_time(const clock& c) noexcept;

// An asio-style timer on any punch::clock: expires_at / expires_after / cancel / async_wait
// as asio::steady_timer, so that code written for one reads the same with the other.
// Destroying it cancels its pending waits (operation_aborted).
class PUNCH_EXPORT timer {
public:
  using time_point = clock::time_point;
  using duration = clock::duration;

  // `c` must outlive the timer.
  explicit timer(const asio::any_io_executor& ex, clock& c = steady_clock());
  timer(const asio::any_io_executor& ex, clock& c, duration after);
  ~timer();
  timer(const timer&) = delete;
  timer& operator=(const timer&) = delete;

  asio::any_io_executor get_executor() noexcept { return steady_.get_executor(); }
  clock& get_clock() const noexcept { return virtual_ ? *virtual_ : steady_clock(); }
  time_point expiry() const { return virtual_ ? expiry_ : steady_.expiry(); }
  // Each cancels the pending waits (operation_aborted) and returns how many it cancelled.
  std::size_t expires_at(time_point at);
  std::size_t expires_after(duration d);
  std::size_t cancel();

  // Waits until expiry(); signature void(error_code): success, or operation_aborted when
  // cancelled (cancel(), a new expiry, the token's cancellation slot, the timer destroyed).
  template <typename Token>
  auto async_wait(Token&& token) {
    return asio::async_initiate<Token, void(error_code)>(initiate_wait{this}, token);
  }

private:
  struct initiate_wait {
    timer* self;
    template <typename Handler>
    void operator()(Handler&& h) const {
      // The steady clock: asio's own timer, no type erasure, no extra allocation.
      if (!self->virtual_) return self->steady_.async_wait(std::forward<Handler>(h));
      self->virtual_->wait(*self, self->expiry_, clock::wait_handler(std::forward<Handler>(h)),
                           self->steady_.get_executor());
    }
  };

  asio::steady_timer steady_;  // the steady clock's timer; with another clock only its executor
  clock* virtual_ = nullptr;   // null: the steady clock
  time_point expiry_{};        // another clock's expiry
};

}  // namespace punch
