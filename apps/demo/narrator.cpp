// The demo's narration: framework steps at the left margin, the peers' packets indented
// once, the network's decisions (NAT mappings, filtering, losses) indented twice.
#include "narrator.hpp"

#include <algorithm>
#include <cstdint>
#include <iomanip>
#include <sstream>

namespace punch_demo {
namespace {

namespace sim = punch::sim;
using kind = punch::session_event::kind;

// Losses shown one by one; the rest are only counted.
constexpr std::size_t losses_shown = 3;
// Lines of one kind (mappings, destinations, drops) at one node; the rest are only counted.
constexpr std::size_t lines_per_kind = 4;

bool is_peer(const std::string& node) { return node == "alice" || node == "bob"; }

}  // namespace

std::string text(const punch::endpoint& ep) {
  std::ostringstream out;
  out << ep;
  return out.str();
}

void narrator::label(const punch::endpoint& ep, std::string what) {
  labels_.try_emplace(ep, std::move(what));
}

void narrator::owner(const sim::nat_box& nat, std::string peer) {
  nats_[nat.name()] = {std::move(peer), nat.behaviour().filtering};
}

std::string narrator::name(const punch::endpoint& ep) const {
  auto it = labels_.find(ep);
  // A peer answers and checks where a check came from, even an address nobody announced.
  return text(ep) + " (" + (it == labels_.end() ? "peer-reflexive" : it->second) + ")";
}

// "alice has not sent to 198.51.100.2:5000 yet (APDF)", or the network's own words.
std::string narrator::filter_reason(const sim::event& e) {
  auto nat = nats_.find(e.node);
  if (nat == nats_.end() || e.reason.starts_with("no mapping")) return e.reason;
  const auto f = nat->second.filtering;
  const std::string whom = f == sim::filtering_behaviour::address_dependent
                               ? e.from.address().to_string()
                               : text(e.from);
  return nat->second.owner + " has not sent to " + whom + " yet (" +
         std::string(sim::to_string(f)) + ")";
}

// True while lines of `kind` at `node` are still told; the line after the last says so.
bool narrator::tell(const std::string& kind, const std::string& node, std::chrono::nanoseconds at) {
  const std::size_t n = ++told_[kind + " " + node];
  if (n == lines_per_kind + 1)
    line(at, 4, "(" + node + ": more " + kind + " follow, only counted: port prediction at work)");
  return n <= lines_per_kind;
}

void narrator::network_event(const sim::event& e) {
  switch (e.kind) {
    case sim::event_kind::sent:
      if (is_peer(e.node) && !brokers_.contains(e.to) && first("sent " + e.node + text(e.to)) &&
          tell("destinations", e.node, e.at))
        line(e.at, 2, e.node + " sends checks to " + name(e.to));
      break;
    case sim::event_kind::delivered:
      if (is_peer(e.node) && !brokers_.contains(e.from) && first("heard " + e.node + text(e.from)))
        line(e.at, 2, e.node + " hears from " + name(e.from));
      break;
    case sim::event_kind::mapping_created:
      if (tell("mappings", e.node, e.at))
        line(e.at, 4, e.node + " opens a mapping " + text(e.inside) + " => " + text(e.external) +
                          " (first packet to " + text(e.remote) + ")");
      break;
    case sim::event_kind::filtered:
      ++filtered_;
      if (first("filtered " + e.node + text(e.from) + text(e.to)) && tell("drops", e.node, e.at))
        line(e.at, 4, e.node + " drops " + text(e.from) + " -> " + text(e.to) + ": " +
                          filter_reason(e));
      break;
    case sim::event_kind::lost:
      if (++lost_ <= losses_shown)
        line(e.at, 4, "lost on " + e.node + "'s link: " + text(e.from) + " -> " + text(e.to) +
                          (lost_ == losses_shown ? " (further losses are only counted)" : ""));
      break;
    case sim::event_kind::unreachable:
      if (first("unreachable " + text(e.to)))
        line(e.at, 4, text(e.from) + " -> " + text(e.to) + " dropped: " + e.reason);
      break;
    default:
      if (first(std::string(sim::to_string(e.kind)) + e.node + text(e.from) + text(e.to)))
        line(e.at, 4, e.to_string());
      break;
  }
}

namespace {

// What a NAT's mapping means for punching, as a clause after "; ".
std::string nat_text(punch::nat_mapping m) {
  if (m == punch::nat_mapping::endpoint_dependent) return "; its NAT is hard (a new port for every destination)";
  if (m == punch::nat_mapping::endpoint_independent) return "; its NAT is easy (one port for every destination)";
  return "";
}

}  // namespace

void narrator::session_event(const std::string& who, const punch::session_event& e) {
  const auto at = net_->elapsed();
  switch (e.what) {
    case kind::registered:
      label(e.address, who + "'s reflexive address");
      line(at, 0, who + " registered: the broker sees it at " + text(e.address) + nat_text(e.nat));
      break;
    case kind::refreshed:
      // NAT discovery runs beside the registration: its refresh is the one that carries the NAT.
      if (e.nat != punch::nat_mapping::unknown)
        line(at, 0, who + " measured its NAT and told the broker" + nat_text(e.nat));
      break;
    case kind::refresh_failed:
      line(at, 0, who + " could not refresh its registration: " + e.error.message());
      break;
    case kind::introduced:
      accepting_.insert(who);
      line(at, 0, who + " is introduced to " + e.peer + " at " + text(e.address) +
                      " and starts punching too");
      break;
    case kind::connected:
      line(at, 0, who + " connected to " + e.peer + " at " + text(e.address) + " over the " +
                      punch::to_string(e.path) + " path, " + std::to_string(e.elapsed.count()) +
                      " ms after " +
                      (accepting_.contains(who) ? "its introduction" : "its connect()"));
      break;
    case kind::punch_failed:
      line(at, 0, who + " gave up punching to " + e.peer + " after " +
                      std::to_string(e.elapsed.count()) + " ms: " + e.error.message());
      break;
    case kind::path_changed:
      line(at, 0, who + "'s connection to " + e.peer + " moves to " + text(e.address) + " (" +
                      punch::to_string(e.path) + " path)");
      break;
    case kind::path_lost:
      line(at, 0, who + "'s path to " + e.peer + " at " + text(e.address) +
                      " stopped answering: finding " + e.peer + " again");
      break;
    case kind::broker_changed:
      line(at, 0, who + "'s broker was silent for " + std::to_string(e.elapsed.count()) + " ms: " + who +
                      " is registered at " + text(e.address) + " now");
      break;
    case kind::turn_allocated:
      line(at, 0, who + " holds a TURN allocation at " + text(e.address));
      break;
    case kind::turn_failed:
      line(at, 0, who + "'s TURN server " + text(e.address) + " refused or is silent: " + e.error.message());
      break;
    case kind::port_mapped:
      if (e.error)
        line(at, 0, who + "'s gateway granted no port mapping: " + e.error.message());
      else
        line(at, 0, who + "'s gateway forwards " + text(e.address) + " to it (" + e.detail + ", " +
                        std::to_string(e.lifetime.count()) + " s)");
      break;
    case kind::closed:
      if (!e.error)
        line(at, 0, who + " closed its connection to " + e.peer);
      else if (e.error == punch::errc::connection_closed)
        line(at, 0, who + " hears that " + e.peer + " closed the connection");
      else
        line(at, 0, who + "'s connection to " + e.peer + " ended: " + e.error.message());
      break;
  }
}

void narrator::section(std::string_view title) {
  if (!quiet_ && !finished_) out_ << "== " << title << '\n';
}

void narrator::say(std::string_view text) { line(net_->elapsed(), 0, text); }

void narrator::result(std::string_view text) {
  finished_ = true;
  out_ << text << '\n';
}

void narrator::line(std::chrono::nanoseconds at, int indent, std::string_view text) {
  if (quiet_ || finished_) return;
  // Whole milliseconds: the network's delays are exact, the host's scheduling is not.
  const auto since = std::chrono::duration_cast<std::chrono::milliseconds>(at - origin_);
  const auto ms = std::max<std::int64_t>(0, since.count());
  out_ << '[' << std::setw(5) << ms << " ms] " << std::string(indent, ' ') << text << '\n';
}

}  // namespace punch_demo
