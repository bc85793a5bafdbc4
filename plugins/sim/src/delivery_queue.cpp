// Datagrams in flight: a time-ordered multimap and a single timer for the earliest one.
#include "delivery_queue.hpp"

#include "punch/plugins/sim/network.hpp"

#include <boost/asio/error.hpp>

namespace punch::sim::detail {

delivery_queue::delivery_queue(network& net, const asio::any_io_executor& ex, punch::clock& time)
    : network_(net), timer_(ex, time) {}

delivery_queue::~delivery_queue() = default;

void delivery_queue::schedule(clock::time_point at, delivery d) {
  // multimap inserts equal keys after the existing ones: FIFO for ties.
  queue_.emplace(at, std::move(d));
  if (!armed_ || at < armed_at_) arm(at);
}

void delivery_queue::arm(clock::time_point at) {
  armed_ = true;
  armed_at_ = at;
  // Re-arming cancels the previous wait; its handler sees operation_aborted and returns.
  timer_.expires_at(at);
  timer_.async_wait([this, alive = std::weak_ptr<char>(alive_)](const error_code& ec) {
    if (alive.expired() || ec == asio::error::operation_aborted) return;
    on_timer();
  });
}

void delivery_queue::on_timer() {
  armed_ = false;
  const auto now = timer_.get_clock().now();
  while (!queue_.empty() && queue_.begin()->first <= now) {
    auto node = queue_.extract(queue_.begin());
    delivery& d = node.mapped();
    network_.arrive(d);
  }
  if (!queue_.empty() && (!armed_ || queue_.begin()->first < armed_at_)) {
    arm(queue_.begin()->first);
  }
}

}  // namespace punch::sim::detail
