// punch::timer on the simulated network's virtual clock, and sim::run, the driver that moves
// it: timers fire in virtual-time order, every way of cancelling a wait works as with asio's
// timers, and a run that would hang ends with a reason instead.
#include "punch/clock.hpp"
#include "punch/plugins/sim/simulation.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(sim_clock_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

namespace asio = boost::asio;
namespace sim = punch::sim;
using namespace std::chrono_literals;
using punch::error_code;

namespace {

struct fixture {
  asio::io_context ctx;
  sim::virtual_clock clock;
  const punch::clock::time_point start = clock.now();

  sim::run_result run(const std::function<bool()>& until = {}, sim::run_limits limits = {}) {
    ctx.restart();
    return sim::run(ctx, clock, until, limits);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(virtual_time)

BOOST_AUTO_TEST_CASE(timers_fire_in_virtual_time_order_and_ties_in_start_order) {
  fixture f;
  std::vector<std::string> fired;
  punch::timer late(f.ctx.get_executor(), f.clock, 3s), early(f.ctx.get_executor(), f.clock, 1s),
      tie(f.ctx.get_executor(), f.clock, 3s);
  late.async_wait([&](error_code ec) { fired.push_back("late " + std::to_string(!ec)); });
  early.async_wait([&](error_code ec) { fired.push_back("early " + std::to_string(!ec)); });
  tie.async_wait([&](error_code ec) { fired.push_back("tie " + std::to_string(!ec)); });
  const auto r = f.run();
  BOOST_TEST((r.outcome == sim::run_outcome::out_of_work));
  BOOST_TEST((r.elapsed == 3s));
  BOOST_TEST(fired == (std::vector<std::string>{"early 1", "late 1", "tie 1"}), boost::test_tools::per_element());
  BOOST_TEST((f.clock.now() - f.start == 3s));
}

BOOST_AUTO_TEST_CASE(a_wait_never_completes_inside_async_wait_even_when_already_due) {
  fixture f;
  punch::timer t(f.ctx.get_executor(), f.clock);
  t.expires_at(f.clock.now() - 1s);
  bool called = false;
  t.async_wait([&](error_code ec) { called = !ec; });
  BOOST_TEST(!called);
  f.ctx.poll();
  BOOST_TEST(called);
  BOOST_TEST((f.clock.now() == f.start));
}

BOOST_AUTO_TEST_CASE(cancel_a_new_expiry_and_destruction_abort_pending_waits) {
  fixture f;
  std::vector<error_code> results;
  auto record = [&](error_code ec) { results.push_back(ec); };
  punch::timer a(f.ctx.get_executor(), f.clock, 1s);
  a.async_wait(record);
  a.async_wait(record);
  BOOST_TEST(a.cancel() == 2u);
  BOOST_TEST(a.cancel() == 0u);
  a.async_wait(record);
  BOOST_TEST(a.expires_after(2s) == 1u);
  {
    punch::timer b(f.ctx.get_executor(), f.clock, 1s);
    b.async_wait(record);
  }
  BOOST_TEST(f.clock.pending() == 0u);
  const auto r = f.run();
  BOOST_TEST((r.elapsed == 0s));  // nothing was left to wait for
  BOOST_REQUIRE(results.size() == 4u);
  for (const auto& ec : results) BOOST_TEST((ec == asio::error::operation_aborted));
}

BOOST_AUTO_TEST_CASE(awaitable_operators_cancel_the_losing_timer_through_its_slot) {
  using namespace asio::experimental::awaitable_operators;
  fixture f;
  std::optional<std::size_t> winner;
  asio::co_spawn(
      f.ctx,
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        punch::timer quick(ex, f.clock, 200ms), slow(ex, f.clock, 1h);
        auto w = co_await (quick.async_wait(asio::use_awaitable) || slow.async_wait(asio::use_awaitable));
        winner = w.index();
      },
      asio::detached);
  const auto r = f.run([&] { return winner.has_value(); });
  BOOST_TEST((r.outcome == sim::run_outcome::done));
  BOOST_TEST(*winner == 0u);
  BOOST_TEST((r.elapsed == 200ms));
  // The hour-long wait was cancelled, not left pending.
  BOOST_TEST(f.clock.pending() == 0u);
}

BOOST_AUTO_TEST_CASE(a_bound_cancellation_slot_aborts_one_wait_and_a_later_emit_finds_nothing) {
  fixture f;
  punch::timer t(f.ctx.get_executor(), f.clock, 1s);
  asio::cancellation_signal signal;
  std::optional<error_code> cancelled, other;
  t.async_wait(asio::bind_cancellation_slot(signal.slot(), [&](error_code ec) { cancelled = ec; }));
  t.async_wait([&](error_code ec) { other = ec; });
  signal.emit(asio::cancellation_type::terminal);
  BOOST_TEST(f.clock.pending() == 1u);
  f.run();
  BOOST_REQUIRE(cancelled);
  BOOST_TEST((*cancelled == asio::error::operation_aborted));
  BOOST_REQUIRE(other);
  BOOST_TEST(!*other);
  signal.emit(asio::cancellation_type::terminal);  // harmless
}

BOOST_AUTO_TEST_CASE(deferred_and_as_tuple_tokens_work_on_a_virtual_timer) {
  fixture f;
  bool done = false;
  asio::co_spawn(
      f.ctx,
      [&]() -> asio::awaitable<void> {
        punch::timer t(co_await asio::this_coro::executor, f.clock, 5s);
        co_await t.async_wait(asio::deferred);
        t.expires_after(5s);
        auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        BOOST_TEST(!ec);
        done = true;
      },
      asio::detached);
  const auto r = f.run([&] { return done; });
  BOOST_TEST((r.elapsed == 10s));
}

BOOST_AUTO_TEST_CASE(a_run_that_would_wait_forever_ends_stuck) {
  fixture f;
  // Outstanding work that nothing will ever complete, as a receive on a silent socket.
  auto guard = asio::make_work_guard(f.ctx);
  const auto r = f.run([] { return false; });
  BOOST_TEST((r.outcome == sim::run_outcome::stuck));
  BOOST_TEST(std::string(sim::to_string(r.outcome)).find("stuck") == 0u);
}

BOOST_AUTO_TEST_CASE(a_run_ends_at_its_virtual_time_limit) {
  fixture f;
  // A loop that never finishes: a keepalive every second.
  asio::co_spawn(
      f.ctx,
      [&]() -> asio::awaitable<void> {
        punch::timer t(co_await asio::this_coro::executor, f.clock);
        for (;;) {
          t.expires_after(1s);
          co_await t.async_wait(asio::use_awaitable);
        }
      },
      asio::detached);
  const auto r = f.run({}, {.time = 1min});
  BOOST_TEST((r.outcome == sim::run_outcome::time_limit));
  BOOST_TEST((r.elapsed == 1min));
  f.ctx.stop();
}

BOOST_AUTO_TEST_CASE(a_run_ends_at_its_step_limit_when_handlers_never_stop) {
  fixture f;
  // A busy loop in zero virtual time.
  std::function<void()> spin = [&] { asio::post(f.ctx, spin); };
  asio::post(f.ctx, spin);
  const auto r = f.run({}, {.steps = 1000});
  BOOST_TEST((r.outcome == sim::run_outcome::step_limit));
  BOOST_TEST(r.steps == 1000u);
  BOOST_TEST((r.elapsed == 0s));
  f.ctx.stop();
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(steady_time)

BOOST_AUTO_TEST_CASE(a_timer_on_the_steady_clock_waits_real_time_and_races_like_asios) {
  using namespace asio::experimental::awaitable_operators;
  asio::io_context ctx;
  std::optional<std::size_t> winner;
  const auto before = std::chrono::steady_clock::now();
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        punch::timer quick(ex), slow(ex, punch::steady_clock(), 1h);
        BOOST_TEST((&quick.get_clock() == &punch::steady_clock()));
        quick.expires_after(5ms);
        auto w = co_await (quick.async_wait(asio::use_awaitable) || slow.async_wait(asio::use_awaitable));
        winner = w.index();
      },
      asio::detached);
  ctx.run();  // returns only if the hour-long wait was cancelled
  BOOST_REQUIRE(winner);
  BOOST_TEST(*winner == 0u);
  BOOST_TEST((std::chrono::steady_clock::now() - before >= 5ms));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()  // sim_clock_test
