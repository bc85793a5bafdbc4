// punch-peer: connects to another peer through a punch broker by UDP hole punching, then
// works like netcat over datagrams. Options → io_context → co_spawn → run.
#include "options.hpp"
#include "peer.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <iostream>

int main(int argc, char* argv[]) {
  namespace app = punch::peer_app;
  const auto start = std::chrono::steady_clock::now();

  auto parsed = app::parse_options(argc, argv);
  switch (parsed.what) {
    case app::parse_result::action::help:
      std::cout << parsed.text;
      return app::exit_ok;
    case app::parse_result::action::version:
      std::cout << parsed.text << '\n';
      return app::exit_ok;
    case app::parse_result::action::error:
      std::cerr << "punch-peer: " << parsed.text << " (see --help)\n";
      return app::exit_bad_options;
    case app::parse_result::action::run:
      break;
  }

  boost::asio::io_context ctx;
  int exit_code = app::exit_failure;
  boost::asio::co_spawn(ctx, app::run_peer(parsed.options, start),
                        [&](std::exception_ptr error, int code) {
                          exit_code = code;
                          // run_peer reports its own failures; this is for a bug in it.
                          if (error) {
                            try {
                              std::rethrow_exception(error);
                            } catch (const std::exception& e) {
                              std::cerr << "punch-peer: " << e.what() << '\n';
                            }
                            exit_code = app::exit_failure;
                          }
                        });
  ctx.run();
  return exit_code;
}
