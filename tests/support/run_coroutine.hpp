// Runs one coroutine on an io_context to completion, for tests: rethrows what escaped it and
// fails the test if it did not finish within the limit (so a lost completion is a failure,
// not a hang). And a server's run() beside a test's coroutine, for the broker and relay tests.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>

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

// Runs a server's `serve` and a test's `body` on `ctx` at once until `body` has ended (then
// `after_body()`: close the server's socket, or stop `ctx`) and `ctx` runs out of work, at
// most `limit`. Fails the test if `body` did not finish; rethrows what either threw. Returns
// whether `serve` ended. The completions share their state with this call rather than point
// into its frame: `serve` may end later, when the caller runs `ctx` again.
inline bool serve_while(boost::asio::io_context& ctx, boost::asio::awaitable<void> serve,
                        boost::asio::awaitable<void> body, std::function<void()> after_body,
                        std::chrono::seconds limit) {
  struct outcome {
    bool served = false, tested = false;
    std::exception_ptr failure;
  };
  auto o = std::make_shared<outcome>();
  boost::asio::co_spawn(ctx, std::move(serve), [o](std::exception_ptr e) {
    o->served = true;
    if (e) o->failure = e;
  });
  boost::asio::co_spawn(ctx, std::move(body), [o, after = std::move(after_body)](std::exception_ptr e) {
    o->tested = true;
    if (e) o->failure = e;
    after();
  });
  ctx.run_for(limit);
  BOOST_REQUIRE_MESSAGE(o->tested, "the test coroutine did not finish within " << limit.count() << " s");
  if (o->failure) std::rethrow_exception(o->failure);
  return o->served;
}

}  // namespace test
