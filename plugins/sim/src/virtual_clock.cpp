// The virtual clock: pending waits in a time-ordered multimap, indexed by timer for cancel().
#include "punch/plugins/sim/virtual_clock.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>

namespace punch::sim {

struct virtual_clock::cancel_one {
  virtual_clock* self;
  queue::iterator it;
  void operator()(asio::cancellation_type) const {
    // complete() clears the slot, which destroys this handler: copy what it needs first.
    virtual_clock* c = self;
    const queue::iterator i = it;
    c->complete(i, asio::error::operation_aborted);
  }
};

virtual_clock::virtual_clock(time_point start) : now_(start) {}

virtual_clock::~virtual_clock() {
  // Taken out first: destroying a handler may destroy a coroutine frame whose timer cancels.
  queue dropped = std::move(waits_);
  by_timer_.clear();
  for (auto& [at, w] : dropped) {
    auto slot = asio::get_associated_cancellation_slot(w.handler);
    if (slot.is_connected()) slot.clear();
  }
}

std::optional<clock::time_point> virtual_clock::next_expiry() const {
  if (waits_.empty()) return std::nullopt;
  return waits_.begin()->first;
}

void virtual_clock::advance_to(time_point t) {
  if (t > now_) now_ = t;
  while (!waits_.empty() && waits_.begin()->first <= now_) complete(waits_.begin(), {});
}

void virtual_clock::wait(timer& t, time_point at, wait_handler done, const asio::any_io_executor& ex) {
  auto work = asio::prefer(ex, asio::execution::outstanding_work.tracked);
  // Already due: completes at once, but posted, as asio's timers do.
  if (at <= now_) {
    asio::post(work, asio::append(std::move(done), error_code{}));
    return;
  }
  auto it = waits_.emplace(at, pending_wait{&t, std::move(done), std::move(work)});
  by_timer_.emplace(&t, it);
  auto slot = asio::get_associated_cancellation_slot(it->second.handler);
  if (slot.is_connected()) slot.template emplace<cancel_one>(cancel_one{this, it});
}

std::size_t virtual_clock::cancel(timer& t) noexcept {
  std::size_t n = 0;
  for (auto found = by_timer_.find(&t); found != by_timer_.end(); found = by_timer_.find(&t)) {
    complete(found->second, asio::error::operation_aborted);
    ++n;
  }
  return n;
}

void virtual_clock::complete(queue::iterator it, error_code ec) noexcept {
  auto [first, last] = by_timer_.equal_range(it->second.owner);
  for (auto i = first; i != last; ++i)
    if (i->second == it) {
      by_timer_.erase(i);
      break;
    }
  pending_wait w = std::move(it->second);
  waits_.erase(it);
  auto slot = asio::get_associated_cancellation_slot(w.handler);
  if (slot.is_connected()) slot.clear();
  asio::post(w.work, asio::append(std::move(w.handler), ec));
}

}  // namespace punch::sim
