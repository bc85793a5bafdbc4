// Command lines of the bench tools: Boost.Program_options with --help and one-line errors.
#pragma once

#include <boost/program_options.hpp>

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

}  // namespace punch::bench
