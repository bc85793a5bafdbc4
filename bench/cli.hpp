// Command lines of the bench tools: Boost.Program_options with --help and one-line errors, and
// the one-line report of a run that failed.
#pragma once

#include <boost/program_options.hpp>

#include <exception>
#include <iostream>
#include <optional>
#include <string_view>

namespace punch::bench {

// Parses argv against `d` (which has a "help" switch). Returns an exit status when the program
// should stop now: 0 after printing the help and `epilogue`, 2 after a one-line error.
inline std::optional<int> parse_command_line(int argc, char* argv[], const boost::program_options::options_description& d,
                                             std::string_view program, std::string_view epilogue) {
  namespace po = boost::program_options;
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, d), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << program << ": " << e.what() << '\n';
    return 2;
  }
  if (vm.count("help")) {
    std::cout << d << '\n' << epilogue;
    return 0;
  }
  return std::nullopt;
}

// A bench's main coroutine ended with `e`: prints what it holds as "program: what" on stderr.
// True when it was a failure (the exit code is then 1).
inline bool report_failure(std::string_view program, std::exception_ptr e) {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    std::cerr << program << ": " << x.what() << '\n';
  }
  return true;
}

}  // namespace punch::bench
