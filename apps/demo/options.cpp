// punch-demo's command line, with Boost.Program_options. Numbers are parsed by hand so that
// "-1" is not silently wrapped into a huge unsigned value.
#include "options.hpp"

#include "demo.hpp"

#include <boost/program_options.hpp>

#include <charconv>
#include <ostream>
#include <stdexcept>

namespace punch_demo {
namespace po = boost::program_options;
namespace {

// The whole text must be the number.
template <typename T>
bool parse_number(const std::string& text, T& value) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return !text.empty() && ec == std::errc{} && ptr == end;
}

std::string nat_types() {
  std::string list = "none";
  for (auto name : punch::sim::nat_behaviour::preset_names()) list.append(", ").append(name);
  return list;
}

nat_choice parse_nat(const std::string& option, const std::string& name) {
  if (name == "none") return {name, std::nullopt};
  if (auto behaviour = punch::sim::nat_behaviour::preset(name)) return {name, behaviour};
  throw std::invalid_argument("--" + option + ": unknown NAT type '" + name + "' (expected " +
                              nat_types() + ")");
}

}  // namespace

std::variant<options, int> parse_options(int argc, const char* const argv[], std::ostream& out,
                                         std::ostream& err) {
  std::string seed, latency, loss, nat_alice, nat_bob;
  po::options_description described(
      "punch-demo: a punch::broker and two punch::sessions, alice and bob, each behind its own\n"
      "simulated NAT, all in this process. alice connects to bob through the broker, they\n"
      "exchange messages over the punched path and close; every step and every decision of\n"
      "the NATs is printed, stamped with the simulated network's time. A symmetric NAT\n"
      "against a port-restricted one connects by port prediction; two symmetric NATs cannot\n"
      "connect directly and go through a punch::relay, also in this process, unless --no-relay.\n"
      "Exit status: 0 connected and exchanged messages, 3 could not connect (or no message got\n"
      "through), 2 bad options, 1 unexpected error.\n\n"
      "Options");
  described.add_options()
      ("help,h", "show this help and exit")
      ("alice-nat", po::value(&nat_alice)->default_value("port-restricted-cone"),
       ("NAT in front of alice: " + nat_types()).c_str())
      ("bob-nat", po::value(&nat_bob)->default_value("full-cone"),
       "NAT in front of bob: the same choices")
      ("seed", po::value(&seed)->default_value("1"),
       "seed of the network's RNG (loss, random NAT ports): a seed repeats a run")
      ("latency-ms", po::value(&latency)->default_value("20"),
       "one-way latency of every link, in milliseconds (0-1000)")
      ("loss", po::value(&loss)->default_value("0"),
       "probability in [0, 1] that a link drops a datagram")
      ("no-relay", "no relay: a pair that cannot punch fails")
      ("quiet,q", "print only the result");
  try {
    po::variables_map vm;
    // No positional arguments: an empty description makes any of them an error.
    const po::positional_options_description none;
    po::store(po::command_line_parser(argc, argv).options(described).positional(none).run(), vm);
    if (vm.count("help")) {
      out << described << '\n';
      return exit_ok;
    }
    po::notify(vm);
    options o;
    if (!parse_number(seed, o.seed)) {
      throw std::invalid_argument("--seed: expected an unsigned integer, got '" + seed + "'");
    }
    unsigned latency_ms = 0;
    if (!parse_number(latency, latency_ms) || latency_ms > 1000) {
      throw std::invalid_argument("--latency-ms: expected a whole number of milliseconds in "
                                  "0-1000, got '" + latency + "'");
    }
    o.latency = std::chrono::milliseconds(latency_ms);
    if (!parse_number(loss, o.loss) || !(o.loss >= 0.0 && o.loss <= 1.0)) {
      throw std::invalid_argument("--loss: expected a probability in [0, 1], got '" + loss + "'");
    }
    o.nat_alice = parse_nat("alice-nat", nat_alice);
    o.nat_bob = parse_nat("bob-nat", nat_bob);
    o.quiet = vm.count("quiet") != 0;
    o.relay = vm.count("no-relay") == 0;
    return o;
  } catch (const po::error& e) {
    err << "punch-demo: " << e.what() << "\nTry 'punch-demo --help'.\n";
  } catch (const std::invalid_argument& e) {
    err << "punch-demo: " << e.what() << "\nTry 'punch-demo --help'.\n";
  }
  return exit_bad_options;
}

}  // namespace punch_demo
