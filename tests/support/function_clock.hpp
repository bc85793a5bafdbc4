// A punch::clock for tests that read the time from a function (frozen, skewed, or moved by
// hand) while the code's timers still wait real time: a wait until `at` lasts `at - now()`
// of real time from when it starts. For brokers and relays driven datagram by datagram, or
// served over real UDP; tests on the simulated network give its virtual clock instead.
#pragma once

#include "punch/clock.hpp"

#include <boost/asio/consign.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <map>
#include <memory>
#include <utility>

namespace test {

class function_clock final : public punch::clock {
public:
  explicit function_clock(std::function<time_point()> now) : now_(std::move(now)) {}

  time_point now() const noexcept override { return now_(); }

protected:
  void wait(punch::timer& t, time_point at, wait_handler done, const boost::asio::any_io_executor& ex) override {
    auto real = std::make_shared<boost::asio::steady_timer>(ex, at - now());
    waits_.emplace(&t, real);
    // asio's timer honours the handler's cancellation slot and executor; it keeps itself alive.
    real->async_wait(boost::asio::consign(std::move(done), real));
  }
  std::size_t cancel(punch::timer& t) noexcept override {
    std::size_t n = 0;
    auto [first, last] = waits_.equal_range(&t);
    for (auto i = first; i != last; ++i)
      if (auto real = i->second.lock()) n += real->cancel();
    waits_.erase(first, last);
    return n;
  }

private:
  std::function<time_point()> now_;
  std::multimap<const punch::timer*, std::weak_ptr<boost::asio::steady_timer>> waits_;
};

}  // namespace test
