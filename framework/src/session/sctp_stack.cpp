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
  usrsctp_sysctl_set_sctp_rto_min_default(200);
  usrsctp_sysctl_set_sctp_rto_max_default(5000);
  usrsctp_sysctl_set_sctp_rto_initial_default(1000);
  usrsctp_sysctl_set_sctp_init_rto_max_default(5000);
  usrsctp_sysctl_set_sctp_assoc_rtx_max_default(20);
  usrsctp_sysctl_set_sctp_path_rtx_max_default(20);
  usrsctp_sysctl_set_sctp_init_rtx_max_default(20);
  usrsctp_sysctl_set_sctp_initial_cwnd(10);  // RFC 6928's 10 packets
  usrsctp_sysctl_set_sctp_delayed_sack_time_default(20);
  // Every SACK is a frame to seal, send, receive and open, as dear as a data packet: one per
  // 8 packets instead of 2 (a gap is still SACKed at once, RFC 9260 §6.7, so loss recovery
  // does not wait). The sender then needs bursts of more than 8 packets, or it would wait for
  // the delayed SACK's timer with fewer in flight: 16 instead of usrsctp's 4 (measured in
  // docs/streams.md, "Numbers": 0.50× → 0.65-0.72× the connection's datagrams on loopback).
  usrsctp_sysctl_set_sctp_sack_freq_default(8);
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
