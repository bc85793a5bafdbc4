// usrsctp's process-wide stack: initialised once without threads, its packets routed to the
// association that sent them, its timers advanced on the sessions' clocks.
#include "session/sctp_stack.hpp"

#include "session/association.hpp"

#include <usrsctp.h>

#include <chrono>
#include <span>

namespace punch::detail {

namespace {

struct globals {
  std::mutex mutex;
  std::weak_ptr<sctp_stack> current;
  // usrsctp_finish fails while a socket it freed lazily is still there: the stack then
  // stays initialised and the next user takes it as it is.
  bool initialised = false;
};
globals& global() {
  static globals g;
  return g;
}

// usrsctp's output: `address` is what the association registered (sctp_stack::add).
int conn_output(void* address, void* buffer, std::size_t length, std::uint8_t /*tos*/, std::uint8_t /*set_df*/) {
  if (auto a = sctp_stack::find(reinterpret_cast<std::uintptr_t>(address)))
    a->output(std::span<const std::byte>(static_cast<const std::byte*>(buffer), length));
  return 0;  // a packet that cannot go is lost, as on a network: SCTP retransmits
}

void configure() {
  usrsctp_init_nothreads(0, &conn_output, nullptr);
  // One path, inside a connection that has its own keepalive and idle timeout: SCTP's
  // heartbeats are off (per socket) and its retransmissions give up late, so that a roaming
  // move or a relayed → direct upgrade (seconds) does not end the association.
  usrsctp_sysctl_set_sctp_ecn_enable(0);
  usrsctp_sysctl_set_sctp_pr_enable(1);  // partial reliability (RFC 3758)
  // RTO floor 50 ms, not 200: on a short path every retransmission timeout (a lost
  // retransmission) otherwise stalls the association for 200 ms and more. It stays above the
  // delayed SACK's 20 ms plus a 10 ms tick, so a SACK held back is not taken for a loss;
  // longer paths get SRTT + 4·RTTVAR as before. Measured in the NAT lab (docs/streams.md).
  usrsctp_sysctl_set_sctp_rto_min_default(50);
  usrsctp_sysctl_set_sctp_rto_max_default(5000);
  usrsctp_sysctl_set_sctp_rto_initial_default(1000);
  usrsctp_sysctl_set_sctp_init_rto_max_default(5000);
  usrsctp_sysctl_set_sctp_assoc_rtx_max_default(20);
  usrsctp_sysctl_set_sctp_path_rtx_max_default(20);
  usrsctp_sysctl_set_sctp_init_rtx_max_default(20);
  usrsctp_sysctl_set_sctp_initial_cwnd(10);  // RFC 6928's 10 packets
  usrsctp_sysctl_set_sctp_delayed_sack_time_default(20);
  // Bursts of up to 16 packets per sending opportunity, not RFC 9260's Max.Burst of 4: with
  // 4 the window grows by little more than 4 packets per SACK, a slow climb back after every
  // loss inside a connection that paces nothing else. SACKs stay at one per 2 packets: one per 8
  // was faster on loopback, but under loss the window then grew a quarter as fast after
  // each retransmission timeout (docs/streams.md, "Numbers").
  usrsctp_sysctl_set_sctp_max_burst_default(16);
  usrsctp_sysctl_set_sctp_max_chunks_on_queue(16 * 1024);
}

}  // namespace

std::shared_ptr<sctp_stack> sctp_stack::acquire() {
  auto& g = global();
  std::lock_guard lock(g.mutex);
  if (auto s = g.current.lock()) return s;
  if (!g.initialised) {
    configure();
    g.initialised = true;
  }
  std::shared_ptr<sctp_stack> s(new sctp_stack());
  g.current = s;
  return s;
}

sctp_stack::~sctp_stack() {
  auto& g = global();
  std::lock_guard lock(g.mutex);
  if (usrsctp_finish() == 0) g.initialised = false;
}

std::uintptr_t sctp_stack::add(std::weak_ptr<association> a) {
  std::uintptr_t address;
  {
    std::lock_guard lock(mutex_);
    address = next_++;
    associations_.emplace(address, std::move(a));
  }
  usrsctp_register_address(reinterpret_cast<void*>(address));
  return address;
}

void sctp_stack::remove(std::uintptr_t address) {
  usrsctp_deregister_address(reinterpret_cast<void*>(address));
  std::lock_guard lock(mutex_);
  associations_.erase(address);
}

std::shared_ptr<association> sctp_stack::find(std::uintptr_t address) {
  std::shared_ptr<sctp_stack> stack;
  {
    std::lock_guard lock(global().mutex);
    stack = global().current.lock();
  }
  return stack ? stack->lookup(address) : nullptr;
}

std::shared_ptr<association> sctp_stack::lookup(std::uintptr_t address) {
  std::lock_guard lock(mutex_);
  auto it = associations_.find(address);
  return it == associations_.end() ? nullptr : it->second.lock();
}

void sctp_stack::advance(punch::clock::time_point now) {
  std::uint32_t elapsed = 0;
  {
    std::lock_guard lock(mutex_);
    if (!last_ || now < *last_) last_ = now;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - *last_);
    if (ms.count() <= 0) return;
    // A clock that jumped (a suspended laptop) fires each timer once, not a storm of them.
    elapsed = static_cast<std::uint32_t>(std::min<long long>(ms.count(), 10'000));
    *last_ += ms;
  }
  // Outside the lock: the timers send packets, which look their association up.
  usrsctp_handle_timers(elapsed);
}

}  // namespace punch::detail
