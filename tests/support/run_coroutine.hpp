// Runs one coroutine on an io_context to completion, for tests: rethrows what escaped it and
// fails the test if it did not finish within the limit (so a lost completion is a failure,
// not a hang).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <exception>

namespace test {

inline void run_to_completion(boost::asio::io_context& ctx, boost::asio::awaitable<void> body,
                              std::chrono::seconds limit = std::chrono::seconds(5)) {
  bool done = false;
  std::exception_ptr failure;
  boost::asio::co_spawn(ctx, std::move(body), [&](std::exception_ptr e) {
    failure = e;
    done = true;
  });
  ctx.run_for(limit);
  BOOST_REQUIRE_MESSAGE(done, "the coroutine did not finish within " << limit.count() << " s");
  if (failure) std::rethrow_exception(failure);
}

}  // namespace test
