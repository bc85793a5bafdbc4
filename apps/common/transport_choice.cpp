// The transport options shared by punch-broker and punch-peer.
#include "transport_choice.hpp"

namespace punch::apps {

namespace po = boost::program_options;

void add_transport_options(po::options_description& d, const char* option_help) {
  d.add_options()
    ("transport", po::value<std::string>()->value_name("NAME")->default_value("udp"),
     "transport by registry name (built in: udp, sim)")
    ("transport-plugin", po::value<std::vector<std::string>>()->value_name("PATH")->composing(),
     "load a transport plugin (shared object) first; repeatable")
    ("transport-option", po::value<std::vector<std::string>>()->value_name("KEY=VALUE")->composing(),
     option_help);
}

std::string read_transport_options(const po::variables_map& vm, std::string& name,
                                   std::vector<std::filesystem::path>& plugins, transport_options& settings) {
  name = vm["transport"].as<std::string>();
  if (name.empty()) return "--transport: the name is empty";
  if (vm.count("transport-plugin"))
    for (const auto& path : vm["transport-plugin"].as<std::vector<std::string>>()) {
      if (path.empty()) return "--transport-plugin: the path is empty";
      plugins.emplace_back(path);
    }
  if (vm.count("transport-option"))
    for (const auto& kv : vm["transport-option"].as<std::vector<std::string>>()) {
      const auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) return "--transport-option \"" + kv + "\": expected KEY=VALUE";
      settings.insert_or_assign(kv.substr(0, eq), kv.substr(eq + 1));
    }
  return {};
}

}  // namespace punch::apps
