// punch-demo: alice and bob, each behind a simulated NAT, learn their reflexive addresses
// from a stand-in broker and punch a hole to each other by hand, printing every decision
// the network takes. Options → io_context → co_spawn → run.
#include "demo.hpp"
#include "options.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <iostream>

int main(int argc, char* argv[]) {
  auto parsed = punch_demo::parse_options(argc, argv, std::cout, std::cerr);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;

  try {
    boost::asio::io_context ctx;
    int exit_code = punch_demo::exit_error;
    boost::asio::co_spawn(ctx, punch_demo::run(std::get<punch_demo::options>(parsed)),
                          [&](std::exception_ptr e, int code) {
                            if (e) std::rethrow_exception(e);
                            exit_code = code;
                          });
    ctx.run();
    return exit_code;
  } catch (const std::exception& e) {
    std::cerr << "punch-demo: " << e.what() << '\n';
    return punch_demo::exit_error;
  }
}
