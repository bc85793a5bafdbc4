// A one-shot wake-up that coroutines await with a deadline (private).
//
// fire() wakes every waiter by cancelling its timer; a waiter tells a wake-up from its own
// cancellation (awaitable_operators `||`, a cancelled co_spawn) by the fired flag, and
// rethrows the latter as operation_aborted so cancellation propagates. Each waiter has its
// own timer in its own coroutine frame: with one shared timer, two waiters (punching and the
// relay's start, say) would cancel each other's wait in turn, a busy loop until the signal
// fires.
#pragma once

#include "punch/clock.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>

namespace punch::detail {

class one_shot_event {
public:
  // `time` (the session's clock) must outlive the event.
  one_shot_event(const boost::asio::any_io_executor& ex, punch::clock& time) : ex_(ex), time_(time) {}
  one_shot_event(const one_shot_event&) = delete;
  one_shot_event& operator=(const one_shot_event&) = delete;

  void fire() {
    fired_ = true;
    for (waiter* w = waiters_; w; w = w->next) w->timer.cancel();
  }
  void reset() noexcept { fired_ = false; }
  bool fired() const noexcept { return fired_; }

  // True once fired, false at the deadline; throws operation_aborted if the awaiting
  // coroutine is cancelled. The signal must outlive its waiters.
  boost::asio::awaitable<bool> wait_until(punch::clock::time_point deadline) {
    namespace asio = boost::asio;
    if (fired_) co_return true;
    if (time_.now() >= deadline) co_return false;
    waiter self{punch::timer(ex_, time_), waiters_};
    waiters_ = &self;
    struct unlink {
      one_shot_event& s;
      waiter& w;
      ~unlink() {
        for (waiter** p = &s.waiters_; *p; p = &(*p)->next)
          if (*p == &w) {
            *p = w.next;
            break;
          }
      }
    } guard{*this, self};
    while (!fired_) {
      if (time_.now() >= deadline) co_return false;
      self.timer.expires_at(deadline);
      auto [ec] = co_await self.timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (fired_) break;
      if (ec == asio::error::operation_aborted) {
        auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none)
          throw boost::system::system_error(asio::error::operation_aborted);
      }
    }
    co_return true;
  }

private:
  struct waiter {
    punch::timer timer;
    waiter* next;
  };
  boost::asio::any_io_executor ex_;
  punch::clock& time_;
  waiter* waiters_ = nullptr;
  bool fired_ = false;
};

}  // namespace punch::detail
