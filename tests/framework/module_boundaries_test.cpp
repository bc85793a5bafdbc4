// framework/src is one folder per module (docs/architecture.md). A file in module M may include
// "X/..." only if X is M or a module M depends on, directly or through others, as declared by
// punch_module(... DEPENDS ...) in framework/CMakeLists.txt. Nothing else keeps a private header
// from becoming another module's dependency.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

using module_graph = std::map<std::string, std::set<std::string>>;

// "name:dep1,dep2" lines.
module_graph parse_modules(std::istream& in) {
  module_graph g;
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto& deps = g[line.substr(0, colon)];
    std::stringstream rest(line.substr(colon + 1));
    std::string d;
    while (std::getline(rest, d, ',')) {
      if (!d.empty()) deps.insert(d);
    }
  }
  return g;
}

// What `m` may include: itself and every module reachable through DEPENDS.
std::set<std::string> reachable(const module_graph& g, const std::string& m) {
  std::set<std::string> seen{m};
  std::vector<std::string> todo{m};
  while (!todo.empty()) {
    const auto at = todo.back();
    todo.pop_back();
    const auto it = g.find(at);
    if (it == g.end()) continue;
    for (const auto& d : it->second) {
      if (seen.insert(d).second) todo.push_back(d);
    }
  }
  return seen;
}

// The violations in one file of module `m`: "file: includes X/..." for each include of a
// module that `m` does not depend on.
std::vector<std::string> violations(const module_graph& g, const std::string& m, const std::string& file,
                                    std::istream& text) {
  static const std::regex include_re(R"re(^\s*#\s*include\s*"([a-z_]+)/[^"]+")re");
  const auto allowed = reachable(g, m);
  std::vector<std::string> found;
  std::string line;
  while (std::getline(text, line)) {
    std::smatch match;
    if (!std::regex_search(line, match, include_re)) continue;
    const std::string target = match[1];
    if (target == "punch") continue;  // the public headers, framework/include/punch
    if (!allowed.contains(target)) found.push_back(file + ": includes " + target + "/ (module " + m + ")");
  }
  return found;
}

module_graph load_modules() {
  std::ifstream in(PUNCH_MODULES_FILE);
  BOOST_TEST_REQUIRE(in.good(), "cannot read " << PUNCH_MODULES_FILE);
  return parse_modules(in);
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_folder_of_framework_src_is_a_declared_module) {
  const auto g = load_modules();
  BOOST_TEST(g.size() >= 8u);
  for (const auto& entry : fs::directory_iterator(PUNCH_FRAMEWORK_SRC)) {
    const auto name = entry.path().filename().string();
    if (entry.is_directory()) {
      BOOST_TEST(g.contains(name), "framework/src/" << name << " is not a punch_module");
    } else {
      BOOST_TEST(false, "framework/src/" << name << " is outside every module folder");
    }
  }
  for (const auto& [m, deps] : g) {
    for (const auto& d : deps) BOOST_TEST(g.contains(d), m << " depends on unknown module " << d);
  }
}

BOOST_AUTO_TEST_CASE(no_module_includes_a_module_it_does_not_depend_on) {
  const auto g = load_modules();
  std::size_t files = 0;
  for (const auto& [m, deps] : g) {
    const fs::path dir = fs::path(PUNCH_FRAMEWORK_SRC) / m;
    if (!fs::is_directory(dir)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      if (!entry.is_regular_file()) continue;
      std::ifstream text(entry.path());
      ++files;
      for (const auto& v : violations(g, m, fs::relative(entry.path(), PUNCH_FRAMEWORK_SRC).string(), text))
        BOOST_TEST(false, v);
    }
  }
  BOOST_TEST(files >= 20u);
}

BOOST_AUTO_TEST_CASE(the_check_finds_an_include_across_a_module_line) {
  std::stringstream list("common:\nwire:common\nserver:wire\nbroker:server\nrelay:server\nsession:wire\n");
  const auto g = parse_modules(list);
  std::stringstream relay_file("#include \"server/nonce.hpp\"\n#include \"wire/stun_bytes.hpp\"\n"
                               "#include \"punch/relay.hpp\"\n#include <vector>\n");
  BOOST_TEST(violations(g, "relay", "relay/relay.cpp", relay_file).empty());
  std::stringstream crossing("#include \"broker/broker_state.hpp\"\n  #  include \"session/x.hpp\"\n");
  const auto v = violations(g, "relay", "relay/relay.cpp", crossing);
  BOOST_TEST_REQUIRE(v.size() == 2u);
  BOOST_TEST(v[0] == "relay/relay.cpp: includes broker/ (module relay)");
}
