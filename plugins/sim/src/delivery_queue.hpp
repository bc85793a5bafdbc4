// Private: datagrams in flight, ordered by arrival time, behind one asio timer.
#pragma once

#include "punch/plugins/sim/host.hpp"
#include "punch/plugins/sim/topology.hpp"

#include "punch/clock.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

namespace punch::sim {
class network;
}

namespace punch::sim::detail {

// A datagram on its way to a host, its path already decided.
struct delivery {
  std::uint64_t packet;
  host* to;
  endpoint from;  // as the receiver sees it (translated by every NAT on the way)
  endpoint dst;
  std::chrono::microseconds delay;
  std::vector<std::byte> payload;
};

class delivery_queue {
public:
  delivery_queue(network& net, const asio::any_io_executor& ex, punch::clock& time);
  ~delivery_queue();

  // `at` is a time of the network's clock. Datagrams due at the same instant arrive in the
  // order they were scheduled.
  void schedule(clock::time_point at, delivery d);
  std::size_t size() const noexcept { return queue_.size(); }

private:
  void arm(clock::time_point at);
  void on_timer();

  network& network_;
  punch::timer timer_;
  std::multimap<clock::time_point, delivery> queue_;
  bool armed_ = false;
  clock::time_point armed_at_{};
  // Timer handlers check it: a wait that completed just before we were destroyed must not
  // touch us.
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace punch::sim::detail
