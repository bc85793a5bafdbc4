// The steady clock, and the timer's members that are not templates: a timer on the steady
// clock is asio's steady_timer; on any other clock it keeps its own expiry and asks the clock.
#include "punch/clock.hpp"

#include <cstdlib>

namespace punch {

clock::~clock() = default;

namespace {

// std::chrono::steady_clock. Its timers never call wait() or cancel(): punch::timer uses
// asio's steady_timer for it directly.
class steady final : public clock {
public:
  time_point now() const noexcept override { return std::chrono::steady_clock::now(); }

protected:
  void wait(timer&, time_point, wait_handler, const asio::any_io_executor&) override { std::abort(); }
  std::size_t cancel(timer&) noexcept override { return 0; }
};

}  // namespace

clock& steady_clock() noexcept {
  static steady instance;
  return instance;
}

std::chrono::system_clock::time_point wall_time(const clock& c) noexcept {
  if (&c == &steady_clock()) return std::chrono::system_clock::now();
  // 2026-01-01T00:00:00Z: any fixed date serves; one near today reads well in logs.
  constexpr std::chrono::sys_days virtual_epoch{std::chrono::year{2026} / 1 / 1};
  return std::chrono::system_clock::time_point(virtual_epoch) +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(c.now().time_since_epoch());
}

timer::timer(const asio::any_io_executor& ex, clock& c)
    : steady_(ex), virtual_(&c == &steady_clock() ? nullptr : &c) {}

timer::timer(const asio::any_io_executor& ex, clock& c, duration after) : timer(ex, c) { expires_after(after); }

timer::~timer() {
  if (virtual_) virtual_->cancel(*this);
}

std::size_t timer::expires_at(time_point at) {
  if (!virtual_) return steady_.expires_at(at);
  const std::size_t n = virtual_->cancel(*this);
  expiry_ = at;
  return n;
}

std::size_t timer::expires_after(duration d) { return expires_at(get_clock().now() + d); }

std::size_t timer::cancel() { return virtual_ ? virtual_->cancel(*this) : steady_.cancel(); }

}  // namespace punch
