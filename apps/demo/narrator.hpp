// Tells the demo's story to a human: the steps of the framework (the sessions' events and
// the story's own lines) and what the NATs did (the simulated network's events), each
// stamped with the network's elapsed time. Repeats are shown once: a NAT that filters the
// same flow every punch round says so on one line, and the result line counts the rest.
#pragma once

#include "punch/plugins/sim/network.hpp"
#include "punch/session.hpp"

#include <chrono>
#include <cstddef>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <string_view>

namespace punch_demo {

class narrator {
public:
  // Quiet: only result() lines are printed.
  narrator(std::ostream& out, bool quiet) : out_(out), quiet_(quiet) {}
  // The clock of every stamp; set before the first line. The narrator may outlive it if no
  // line is told after it is gone.
  void set_clock(const punch::sim::network& net) { net_ = &net; }
  // Stamps count from now: the time the process took to start is not part of the story.
  void start() { origin_ = net_->elapsed(); }

  // Names an endpoint in later lines: "bob's reflexive address". The first name given stays
  // (a peer without NAT: its host address is also the one the broker sees).
  void label(const punch::endpoint& ep, std::string what);
  // Which peer sits behind a NAT box, for "alice has not sent to ... yet".
  void owner(const punch::sim::nat_box& nat, std::string peer);
  // An endpoint whose traffic is the broker's (not narrated as punching).
  void broker(const punch::endpoint& ep) { brokers_.insert(ep); }

  // Handlers to attach to the network and to each session.
  void network_event(const punch::sim::event& e);
  void session_event(const std::string& who, const punch::session_event& e);

  void section(std::string_view title);
  void say(std::string_view line);
  // Always printed, quiet or not; nothing but results is printed after the first.
  void result(std::string_view line);

  // Inbound datagrams the NATs dropped, and datagrams the links lost, so far.
  std::size_t filtered() const noexcept { return filtered_; }
  std::size_t lost() const noexcept { return lost_; }

private:
  void line(std::chrono::nanoseconds at, int indent, std::string_view text);
  // True the first time `key` is seen.
  bool first(std::string key) { return seen_.insert(std::move(key)).second; }
  std::string name(const punch::endpoint& ep) const;
  std::string filter_reason(const punch::sim::event& e);

  struct nat_info {
    std::string owner;
    punch::sim::filtering_behaviour filtering;
  };

  std::ostream& out_;
  bool quiet_;
  const punch::sim::network* net_ = nullptr;
  std::chrono::nanoseconds origin_{0};
  bool finished_ = false;
  std::set<punch::endpoint> brokers_;
  // Lines of one kind at one node so far: port prediction sends thousands of datagrams, and
  // the story tells the first few of each kind and counts the rest.
  std::map<std::string, std::size_t> told_;
  bool tell(const std::string& kind, const std::string& node, std::chrono::nanoseconds at);
  std::map<punch::endpoint, std::string> labels_;
  std::map<std::string, nat_info> nats_;
  std::set<std::string> seen_;
  // Peers that were introduced: they punch in answer to someone else's connect().
  std::set<std::string> accepting_;
  std::size_t filtered_ = 0;
  std::size_t lost_ = 0;
};

// "198.51.100.1:5000"
std::string text(const punch::endpoint& ep);

}  // namespace punch_demo
