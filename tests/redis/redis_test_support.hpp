// What the Redis client and cluster tests share: skipping where redis-server is absent, and
// running the io_context until an awaited event happened (bounded, never a sleep).
#pragma once

#include "redis_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <iostream>

// CTest reports the test as skipped (SKIP_REGULAR_EXPRESSION "SKIPPED:").
#define PUNCH_SKIP_WITHOUT_REDIS()                                       \
  if (auto why = test::redis_server::unavailable()) {                     \
    std::cout << "SKIPPED: " << *why << std::endl;                        \
    BOOST_TEST_MESSAGE("SKIPPED: " << *why);                              \
    return;                                                               \
  }

namespace test {

// Runs `ctx` one handler at a time until `done()` holds; false if `limit` passed first.
template <typename Predicate>
bool run_until(boost::asio::io_context& ctx, Predicate done, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    if (ctx.stopped()) ctx.restart();
    ctx.run_one_for(deadline - now);
  }
  return true;
}

}  // namespace test
