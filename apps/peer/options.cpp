// punch-peer's command line, parsed with Boost.Program_options and checked value by value.
#include "options.hpp"

#include "server_common.hpp"
#include "transport_choice.hpp"

#include "punch/connection.hpp"
#include "punch/stream.hpp"
#include "punch/wire/protocol.hpp"

#include <boost/program_options.hpp>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <string_view>
#include <vector>

namespace punch::peer_app {
namespace {

namespace po = boost::program_options;

// A day: longer deadlines are almost certainly a typo (ms for s).
constexpr double max_timeout_seconds = 86400;

po::options_description make_description() {
  po::options_description d{"Options"};
  // Values are taken as strings and checked below, so every message can name its option.
  d.add_options()
    ("broker", po::value<std::vector<std::string>>()->value_name("HOST:PORT[,HOST:PORT]"),
     "the broker (required); HOST may be a name, an IPv4 address or [IPv6]. A dual-stack "
     "broker's two addresses go in one --broker, comma-separated (or under one name with A and "
     "AAAA records): we register over both families, and IPv6 paths to peers are tried first. "
     "Repeatable: brokers are tried in order, the first that answers takes our registration, "
     "and when it stops answering we register at the next one (wrapping around) within "
     "--keepalive plus the request timeout; peers then reach us through that broker")
    ("id", po::value<std::string>()->value_name("NAME"),
     "our peer id (required): 1..64 of A-Z a-z 0-9 . _ @ -")
    ("connect", po::value<std::string>()->value_name("OTHER"),
     "connect to peer OTHER; without it, wait for one incoming connection")
    ("relay", po::value<std::string>()->value_name("HOST:PORT"),
     "a punch-relay to go through when no direct path opens (both peers need the same one); "
     "the connection moves to a direct path if one opens later")
    ("turn", po::value<std::vector<std::string>>()->value_name("turn:HOST:PORT"),
     "a standard TURN server (RFC 8656, e.g. coturn; UDP) to relay through when no direct path "
     "opens; only this side needs one. Repeatable: tried in order. Needs --turn-user and "
     "--turn-password, or --turn-secret")
    ("turn-user", po::value<std::string>()->value_name("USER"),
     "the TURN user (long-term credentials); with --turn-secret, the name in the REST username")
    ("turn-password", po::value<std::string>()->value_name("PASSWORD"), "the TURN user's password")
    ("turn-secret", po::value<std::string>()->value_name("SECRET"),
     "the TURN server's shared secret (coturn's static-auth-secret): time-limited TURN REST "
     "credentials are derived from it, valid for a day")
    ("path", po::value<std::string>()->value_name("any|direct|relay|adaptive"),
     "which paths the connection may take (default any: direct first, the relay as the "
     "fallback); direct: never relay, fail when no direct path opens; relay: only through "
     "--relay or --turn, never sending to the peer's own addresses; adaptive: like any, then "
     "to the relay while the direct path loses over 15% of its probes and back once it is clean")
    ("no-port-prediction", po::bool_switch(),
     "do not try port prediction when one NAT is hard and the other easy (it opens up to 256 "
     "sockets behind a hard NAT, or sends up to 2048 probes behind an easy one)")
    ("no-port-mapping", po::bool_switch(),
     "do not ask our default gateway for a port mapping (PCP, then NAT-PMP, then UPnP IGD); "
     "with one, a peer behind any NAT reaches us directly over it")
    ("key", po::value<std::string>()->value_name("PATH"),
     "our identity key file (default ${XDG_CONFIG_HOME:-~/.config}/punch/NAME.key); "
     "made with mode 0600 on first run, refused if group or others may read or write it")
    ("expect-key", po::value<std::string>()->value_name("KEY"),
     "with --connect: the public key OTHER must prove it holds (43 characters, as "
     "punch-peer prints its own); without it, the key the broker reports is trusted");
  apps::add_transport_options(d);
  d.add_options()
    ("bind", po::value<std::string>()->value_name("ADDR:PORT"),
     "local address of our socket (default [::]:0, dual-stack; 0.0.0.0:0 where the machine has "
     "no IPv6); 0.0.0.0 keeps to IPv4")
    ("timeout", po::value<std::string>()->value_name("SECONDS")->default_value("30"),
     "deadline for getting connected: registration plus connect or accept")
    ("keepalive", po::value<std::string>()->value_name("SECONDS")->default_value("15"),
     "how often the broker registration (and our NAT's mapping toward the broker) is "
     "refreshed; with several --broker, a dead one is noticed at the next refresh")
    ("stream", po::bool_switch(),
     "instead of lines as datagrams: stdin goes out as one reliable byte stream (binary-safe) "
     "and the peer's stream comes out on stdout; end of input closes once all was delivered, "
     "and the exit is 0 only when both directions completed")
    ("events", po::bool_switch(), "print one JSON object per event on stderr")
    ("help,h", "print this help and exit")
    ("version", "print the version and exit");
  return d;
}

std::string help_text(const po::options_description& d) {
  std::ostringstream out;
  out << "Usage: punch-peer --broker HOST:PORT [--broker HOST:PORT ...] --id NAME [--connect OTHER]\n"
         "                  [options]\n\n"
         "Registers NAME at a punch broker, then connects to OTHER (or, without --connect,\n"
         "waits for one peer to connect) by UDP hole punching. Once connected it works like\n"
         "netcat over datagrams: each line of stdin is sent as one datagram (without its\n"
         "newline) and each datagram received is printed on stdout as a line. Lines read\n"
         "before the connection is up are kept and sent once it is. A line longer than "
      << connection::max_payload()
      << "\nbytes is skipped with a message on stderr. End of stdin, SIGINT or SIGTERM closes\n"
         "the connection; the other peer then exits too.\n\n"
      << d
      << "\nOn start it prints our public key on stderr (with --events: in the registered\n"
         "event); the other side passes it as --expect-key.\n\n"
         "--events objects: registered {id, key, reflexive, [reflexive_other,] nat: easy|hard|unknown,\n"
         "ms} (reflexive_other: the other family's, when registered over both),\n"
         "introduced {peer},\n"
         "connected {peer, key, remote, path: host|reflexive|peer-reflexive|predicted|mapped|relay,\n"
         "ms},\n"
         "port_mapped {external, protocol: pcp|natpmp|upnp, lifetime_s} (our gateway granted,\n"
         "renewed or, after it restarted, granted again a port mapping; \"protocol\" ends with\n"
         "\" (gateway restarted)\" then) or port_mapped {error, tried} (none granted),\n"
         "path_changed {peer, remote, path} (a relayed connection went direct, or the network changed),\n"
         "path_lost {peer, remote, path} (the path stopped answering; a new one is being found),\n"
         "broker_changed {broker, silent_ms, ms} (the broker stopped answering for silent_ms; we are\n"
         "registered at this one now, and connections go on), turn_allocated {relayed, ms} (our\n"
         "address at the --turn server, announced to peers; a TURN server that refuses is an error\n"
         "event and we go on without it), stream {peer, sent, received,\n"
         "ms, sent_mbit_s, received_mbit_s} (--stream: the bytes each way and the goodput), closed\n"
         "{peer, reason: local|remote}, error {message}; ms counts from start-up.\n\n"
         "Exit codes:\n"
         "  0  connected, then the connection closed cleanly (either side closed it)\n"
         "  1  runtime failure: broker unreachable, peer not registered, hole punching\n"
         "     timed out, the peer's key is not the --expect-key, connection lost; one\n"
         "     line on stderr says which\n"
         "  2  bad options, or a --key file that is malformed or not private: one line on\n"
         "     stderr names the option\n";
  return out.str();
}

parse_result failure(std::string message) {
  parse_result r;
  r.what = parse_result::action::error;
  r.text = std::move(message);
  return r;
}

std::optional<std::chrono::milliseconds> parse_timeout(const std::string& text) {
  double seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() ||
      !std::isfinite(seconds) || seconds <= 0 || seconds > max_timeout_seconds)
    return std::nullopt;
  return std::chrono::milliseconds{static_cast<std::int64_t>(std::ceil(seconds * 1000))};
}

}  // namespace

std::optional<host_port> parse_host_port(std::string_view text, std::string& error) {
  auto hp = apps::split_host_port(text, "HOST", error);
  if (!hp) return std::nullopt;
  if (hp->host.empty()) {
    error = "the host is empty";
    return std::nullopt;
  }
  return host_port{std::string{hp->host}, hp->port};
}

std::optional<std::filesystem::path> default_key_path(std::string_view id, const char* xdg_config_home,
                                                      const char* home) {
  std::filesystem::path config;
  if (xdg_config_home && std::filesystem::path{xdg_config_home}.is_absolute())
    config = xdg_config_home;
  else if (home && *home)
    config = std::filesystem::path{home} / ".config";
  else
    return std::nullopt;
  return config / "punch" / (std::string{id} + ".key");
}

bool is_valid_peer_id(std::string_view id) noexcept { return wire::valid_peer_id(id); }

std::string format_seconds(std::chrono::milliseconds d) {
  std::ostringstream out;
  if (d.count() % 1000 == 0)
    out << d.count() / 1000 << " s";
  else
    out << static_cast<double>(d.count()) / 1000 << " s";
  return out.str();
}

parse_result parse_options(int argc, const char* const argv[]) {
  auto description = make_description();
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(description).run(), vm);
  } catch (const po::error& e) {
    // Program_options' messages already name the option ("unrecognised option '--x'").
    return failure(e.what());
  }

  parse_result r;
  if (vm.count("help")) {
    r.what = parse_result::action::help;
    r.text = help_text(description);
    return r;
  }
  if (vm.count("version")) {
    r.what = parse_result::action::version;
    r.text = "punch-peer " PUNCH_VERSION_TEXT;
    return r;
  }

  peer_options& o = r.options;
  if (!vm.count("broker")) return failure("--broker HOST:PORT is required");
  std::string error;
  for (const std::string& text : vm["broker"].as<std::vector<std::string>>()) {
    // "A" or "A,B": commas never occur inside a HOST:PORT ([IPv6] has none either).
    std::vector<host_port> found;
    for (std::size_t start = 0;;) {
      const auto comma = text.find(',', start);
      const auto part = std::string_view(text).substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      auto broker = parse_host_port(part, error);
      if (!broker) return failure("--broker \"" + text + "\": " + error);
      if (broker->port == 0) return failure("--broker: the port must not be 0");
      found.push_back(*broker);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (found.size() > 2)
      return failure("--broker \"" + text + "\": at most two addresses, one per family, of one broker");
    broker_hosts b{found[0], found.size() == 2 ? std::optional<host_port>(found[1]) : std::nullopt};
    if (o.broker.host.empty()) {
      o.broker = b.main;
      o.broker_other = b.other;
    } else {
      o.fallback_brokers.push_back(std::move(b));
    }
  }
  if (vm.count("relay")) {
    auto relay = parse_host_port(vm["relay"].as<std::string>(), error);
    if (!relay) return failure("--relay \"" + vm["relay"].as<std::string>() + "\": " + error);
    if (relay->port == 0) return failure("--relay: the port must not be 0");
    o.relay = *relay;
  }

  if (vm.count("turn")) {
    for (const std::string& text : vm["turn"].as<std::vector<std::string>>()) {
      // RFC 7065's scheme names the server kind; turns: (TLS) and TCP transports are not offered.
      constexpr std::string_view scheme = "turn:";
      if (text.rfind(scheme, 0) != 0) return failure("--turn "" + text + "": expected turn:HOST:PORT");
      auto server = parse_host_port(std::string_view(text).substr(scheme.size()), error);
      if (!server) return failure("--turn "" + text + "": " + error);
      if (server->port == 0) return failure("--turn "" + text + "": the port must not be 0");
      o.turn.push_back(*server);
    }
  }
  if (vm.count("turn-user")) o.turn_user = vm["turn-user"].as<std::string>();
  if (vm.count("turn-password")) o.turn_password = vm["turn-password"].as<std::string>();
  if (vm.count("turn-secret")) o.turn_secret = vm["turn-secret"].as<std::string>();
  const bool turn_credentials = vm.count("turn-user") || vm.count("turn-password") || o.turn_secret;
  if (!o.turn.empty() || turn_credentials) {
    if (o.turn.empty()) return failure("--turn-user, --turn-password and --turn-secret need --turn turn:HOST:PORT");
    if (o.turn_secret && vm.count("turn-password"))
      return failure("--turn-secret and --turn-password: give one (REST credentials or a password)");
    if (o.turn_secret && o.turn_secret->empty()) return failure("--turn-secret: the secret is empty");
    if (!o.turn_secret && (o.turn_user.empty() || o.turn_password.empty()))
      return failure("--turn needs --turn-user and --turn-password, or --turn-secret");
  }

  if (vm.count("path")) {
    const std::string text = vm["path"].as<std::string>();
    const auto mode = parse_path_mode(text);
    if (!mode) return failure("--path \"" + text + "\": expected any, direct, relay or adaptive");
    if ((*mode == path_mode::relay_only || *mode == path_mode::adaptive) && !o.relay && o.turn.empty())
      return failure("--path " + text + " needs --relay or --turn");
    o.path = *mode;
  }

  if (!vm.count("id")) return failure("--id NAME is required");
  o.id = vm["id"].as<std::string>();
  if (!is_valid_peer_id(o.id))
    return failure("--id \"" + o.id + "\": use 1..64 of A-Z a-z 0-9 . _ @ -");

  if (vm.count("connect")) {
    o.connect = vm["connect"].as<std::string>();
    if (!is_valid_peer_id(*o.connect))
      return failure("--connect \"" + *o.connect + "\": use 1..64 of A-Z a-z 0-9 . _ @ -");
    if (*o.connect == o.id) return failure("--connect \"" + o.id + "\": that is our own --id");
  }

  if (vm.count("key")) {
    o.key = vm["key"].as<std::string>();
    if (o.key.empty()) return failure("--key: the path is empty");
  } else if (auto path = default_key_path(o.id, std::getenv("XDG_CONFIG_HOME"), std::getenv("HOME"))) {
    o.key = *path;
  } else {
    return failure("--key PATH is required when neither HOME nor XDG_CONFIG_HOME is set");
  }

  if (vm.count("expect-key")) {
    const auto& text = vm["expect-key"].as<std::string>();
    if (!o.connect) return failure("--expect-key needs --connect: it is the key of the peer we connect to");
    o.expect_key = parse_public_key(text);
    if (!o.expect_key)
      return failure("--expect-key \"" + text + "\": expected a public key, 43 characters of A-Z a-z 0-9 - _");
  }

  if (auto why = apps::read_transport_options(vm, o.transport, o.transport_plugins, o.transport_settings); !why.empty())
    return failure(why);

  if (vm.count("bind")) {
    const auto& text = vm["bind"].as<std::string>();
    auto bind = parse_host_port(text, error);
    if (!bind) return failure("--bind \"" + text + "\": " + error);
    boost::system::error_code ec;
    auto address = asio::ip::make_address(bind->host, ec);
    if (ec) return failure("--bind \"" + text + "\": the address must be numeric");
    o.bind = endpoint{address, bind->port};
    o.bind_given = true;
  }

  auto timeout = parse_timeout(vm["timeout"].as<std::string>());
  if (!timeout)
    return failure("--timeout \"" + vm["timeout"].as<std::string>() +
                   "\": expected seconds, more than 0 and at most 86400");
  o.timeout = *timeout;
  auto keepalive = parse_timeout(vm["keepalive"].as<std::string>());
  if (!keepalive)
    return failure("--keepalive \"" + vm["keepalive"].as<std::string>() +
                   "\": expected seconds, more than 0 and at most 86400");
  o.keepalive = *keepalive;
  o.events = vm["events"].as<bool>();
  o.stream = vm["stream"].as<bool>();
  // Refused now, not after the connection is made (the peer would wait on us in vain).
  if (o.stream && !streams_available())
    return failure("--stream: this punch was built without streams (usrsctp; PUNCH_STREAMS, docs/streams.md)");
  o.port_prediction = !vm["no-port-prediction"].as<bool>();
  o.port_mapping = !vm["no-port-mapping"].as<bool>();

  r.what = parse_result::action::run;
  return r;
}

}  // namespace punch::peer_app
