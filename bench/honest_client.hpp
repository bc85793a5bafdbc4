// An honest peer registering with the broker while punch-bench floods it (register-spoofed):
// from a socket and a thread of its own, every `every`, a Register signed over a fresh
// TIMESTAMP; answered 401 or 438 with a NONCE (cookie mode, "busy"), it signs over that NONCE
// and sends again, as a session does (framework/src/session/registration.cpp). Lost datagrams
// are sent again after 200 ms; a registration not done in 2 s failed.
#pragma once

#include "load.hpp"

#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace punch::bench {

struct honest_result {
  std::size_t attempts = 0;
  std::size_t registered = 0;      // answered with success
  std::size_t first_datagram = 0;  // of those, taken on the TIMESTAMP alone
  std::size_t resent = 0;          // datagrams sent again after no answer
  std::vector<double> latency_ms;  // of each success, from its first datagram
};

class honest_client {
public:
  honest_client(udp_endpoint broker, std::chrono::milliseconds every);
  ~honest_client();  // stops
  honest_client(const honest_client&) = delete;
  honest_client& operator=(const honest_client&) = delete;
  // Stops after the registration under way; the results from then on.
  honest_result stop();

private:
  void run();
  udp_endpoint broker_;
  std::chrono::milliseconds every_;
  std::atomic<bool> stop_{false};
  honest_result result_;
  std::thread thread_;
};

}  // namespace punch::bench
