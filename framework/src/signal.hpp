// A one-shot wake-up a single coroutine can await with a deadline (private).
//
// fire() wakes the waiter by cancelling a timer; the waiter tells a wake-up from its own
// cancellation (awaitable_operators `||`, a cancelled co_spawn) by the fired flag, and
// rethrows the latter as operation_aborted so cancellation propagates.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>

namespace punch::detail {

class signal {
public:
  using clock = std::chrono::steady_clock;

  explicit signal(const boost::asio::any_io_executor& ex) : timer_(ex) {}

  void fire() {
    fired_ = true;
    timer_.cancel();
  }
  void reset() noexcept { fired_ = false; }
  bool fired() const noexcept { return fired_; }

  // True once fired, false at the deadline; throws operation_aborted if the awaiting
  // coroutine is cancelled.
  boost::asio::awaitable<bool> wait_until(clock::time_point deadline) {
    namespace asio = boost::asio;
    while (!fired_) {
      if (clock::now() >= deadline) co_return false;
      timer_.expires_at(deadline);
      auto [ec] = co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
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
  boost::asio::steady_timer timer_;
  bool fired_ = false;
};

}  // namespace punch::detail
