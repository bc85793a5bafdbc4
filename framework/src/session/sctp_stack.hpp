// usrsctp, which is one stack per process (private header): initialised without its threads
// when the first association needs it, finished when the last one goes. It routes the
// packets usrsctp sends to their association by the address each registered, and advances
// usrsctp's timers from the associations' executors, on their sessions' clocks.
#pragma once

#include "punch/clock.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace punch::detail {

struct association;

class sctp_stack {
public:
  // The process's stack, initialised if no association holds it.
  static std::shared_ptr<sctp_stack> acquire();
  ~sctp_stack();
  sctp_stack(const sctp_stack&) = delete;
  sctp_stack& operator=(const sctp_stack&) = delete;

  // A fresh address for `a`, registered with usrsctp (AF_CONN); remove() deregisters it.
  std::uintptr_t add(std::weak_ptr<association> a);
  void remove(std::uintptr_t address);
  // The association registered at `address` in the current stack, if it is still there.
  static std::shared_ptr<association> find(std::uintptr_t address);
  // usrsctp_handle_timers with the milliseconds since the last call (any association's):
  // several associations tick, the stack's time advances once.
  void advance(punch::clock::time_point now);

private:
  sctp_stack() = default;
  std::shared_ptr<association> lookup(std::uintptr_t address);
  std::mutex mutex_;
  std::unordered_map<std::uintptr_t, std::weak_ptr<association>> associations_;
  std::uintptr_t next_ = 1;
  std::optional<punch::clock::time_point> last_;
};

}  // namespace punch::detail
