// punch-demo: a broker and two peers behind simulated NATs connect with the punch framework
// and exchange messages, narrated for a human. Options → io_context → co_spawn → run.
#include "demo.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <iostream>

int main(int argc, char* argv[]) {
  auto parsed = punch_demo::parse_options(argc, argv, std::cout, std::cerr);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const auto& o = std::get<punch_demo::options>(parsed);

  try {
    boost::asio::io_context ctx;
    // The narrator outlives the world: sessions may still report while they are destroyed.
    punch_demo::narrator say{std::cout, o.quiet};
    punch_demo::world w{ctx.get_executor(), o};
    punch_demo::narrate(w, say);
    if (!o.quiet) w.describe(std::cout, o);

    std::exception_ptr error;
    int exit_code = punch_demo::exit_error;
    boost::asio::co_spawn(ctx, w.broker.run(), [&](std::exception_ptr e) {
      if (e && !error) error = e;
    });
    boost::asio::co_spawn(ctx, w.other_port.run(), [&](std::exception_ptr e) {
      if (e && !error) error = e;
    });
    boost::asio::co_spawn(ctx, w.relay.run(), [&](std::exception_ptr e) {
      if (e && !error) error = e;
    });
    boost::asio::co_spawn(ctx, punch_demo::run(w, say, o), [&](std::exception_ptr e, int code) {
      if (e && !error) error = e;
      exit_code = code;
      // Closing the sessions and the broker's socket ends every coroutine: run() returns.
      w.close();
    });
    ctx.run();
    if (error) std::rethrow_exception(error);
    return exit_code;
  } catch (const std::exception& e) {
    std::cerr << "punch-demo: " << e.what() << '\n';
    return punch_demo::exit_error;
  }
}
