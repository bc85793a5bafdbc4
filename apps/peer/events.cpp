// punch-peer's --events output: one JSON object per line, flushed at once so a reader can
// wait for a line.
#include "events.hpp"

#include <sstream>

namespace punch::peer_app {

std::string json_escape(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out += hex[u >> 4];
          out += hex[u & 0xf];
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string to_text(const endpoint& ep) {
  std::ostringstream out;
  out << ep;  // asio writes IPv6 addresses in brackets
  return out.str();
}

event_log::event_log(bool enabled, clock::time_point start, std::FILE* out)
    : enabled_(enabled), start_(start), out_(out) {}

long long event_log::ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - start_).count();
}

void event_log::write(const std::string& line) {
  // One write per object, so a line is never interleaved with another message.
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

// Peer ids are limited to [A-Za-z0-9._@-] by the options and the broker, yet they are escaped
// anyway: the session may report an id that a broker sent.
// A key's text form is URL-safe base64: nothing in it needs escaping.
void event_log::registered(std::string_view id, const public_key& key, const endpoint& reflexive,
                           nat_mapping nat, const std::optional<endpoint>& reflexive_other,
                           const std::optional<endpoint>& broker) {
  if (!enabled_) return;
  // A dual-stack session's address in the other family, when it registered there too.
  const std::string other = reflexive_other ? ",\"reflexive_other\":\"" + to_text(*reflexive_other) + "\"" : "";
  const std::string at = broker ? ",\"broker\":\"" + to_text(*broker) + "\"" : "";
  write("{\"event\":\"registered\",\"id\":\"" + json_escape(id) + "\",\"key\":\"" +
        to_string(key) + "\",\"reflexive\":\"" + to_text(reflexive) + "\"" + other + ",\"nat\":\"" +
        to_string(nat) + "\"" + at + ",\"ms\":" + std::to_string(ms()) + "}\n");
}

void event_log::broker_changed(const endpoint& broker, std::chrono::milliseconds silent) {
  if (!enabled_) return;
  write("{\"event\":\"broker_changed\",\"broker\":\"" + to_text(broker) + "\",\"silent_ms\":" +
        std::to_string(silent.count()) + ",\"ms\":" + std::to_string(ms()) + "}\n");
}

void event_log::turn_allocated(const endpoint& relayed) {
  if (!enabled_) return;
  write("{\"event\":\"turn_allocated\",\"relayed\":\"" + to_text(relayed) + "\",\"ms\":" + std::to_string(ms()) + "}\n");
}

void event_log::port_mapped(const session_event& e) {
  if (!enabled_) return;
  if (e.error) {
    write("{\"event\":\"port_mapped\",\"error\":\"" + json_escape(e.error.message()) + "\",\"tried\":\"" +
          json_escape(e.detail) + "\",\"ms\":" + std::to_string(ms()) + "}\n");
    return;
  }
  write("{\"event\":\"port_mapped\",\"external\":\"" + to_text(e.address) + "\",\"protocol\":\"" +
        json_escape(e.detail) + "\",\"lifetime_s\":" + std::to_string(e.lifetime.count()) + ",\"ms\":" +
        std::to_string(ms()) + "}\n");
}

void event_log::introduced(std::string_view peer) {
  if (!enabled_) return;
  write("{\"event\":\"introduced\",\"peer\":\"" + json_escape(peer) + "\",\"ms\":" +
        std::to_string(ms()) + "}\n");
}

void event_log::connected(std::string_view peer, const public_key& key, const endpoint& remote,
                          path_kind path) {
  if (!enabled_) return;
  write("{\"event\":\"connected\",\"peer\":\"" + json_escape(peer) + "\",\"key\":\"" +
        to_string(key) + "\",\"remote\":\"" + to_text(remote) + "\",\"path\":\"" +
        punch::to_string(path) + "\",\"ms\":" + std::to_string(ms()) + "}\n");
}

void event_log::path_changed(std::string_view peer, const endpoint& remote, path_kind path) {
  path_event("path_changed", peer, remote, path);
}

void event_log::path_lost(std::string_view peer, const endpoint& remote, path_kind path) {
  path_event("path_lost", peer, remote, path);
}

void event_log::path_event(std::string_view name, std::string_view peer, const endpoint& remote, path_kind path) {
  if (!enabled_) return;
  write("{\"event\":\"" + std::string(name) + "\",\"peer\":\"" + json_escape(peer) + "\",\"remote\":\"" +
        to_text(remote) + "\",\"path\":\"" + punch::to_string(path) + "\",\"ms\":" + std::to_string(ms()) + "}\n");
}

void event_log::closed(std::string_view peer, std::string_view reason) {
  if (!enabled_) return;
  write("{\"event\":\"closed\",\"peer\":\"" + json_escape(peer) + "\",\"reason\":\"" +
        json_escape(reason) + "\",\"ms\":" + std::to_string(ms()) + "}\n");
}

void event_log::stream_done(std::string_view peer, std::uint64_t sent, std::uint64_t received,
                            std::chrono::milliseconds took) {
  if (!enabled_) return;
  const double seconds = std::max<double>(took.count(), 1) / 1000.0;
  auto mbit = [&](std::uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3f", static_cast<double>(bytes) * 8 / seconds / 1e6);
    return std::string(text);
  };
  write("{\"event\":\"stream\",\"peer\":\"" + json_escape(peer) + "\",\"sent\":" + std::to_string(sent) +
        ",\"received\":" + std::to_string(received) + ",\"ms\":" + std::to_string(ms()) +
        ",\"sent_mbit_s\":" + mbit(sent) + ",\"received_mbit_s\":" + mbit(received) + "}\n");
}

void event_log::error(std::string_view message) {
  if (!enabled_) return;
  write("{\"event\":\"error\",\"message\":\"" + json_escape(message) + "\",\"ms\":" +
        std::to_string(ms()) + "}\n");
}

void event_log::from_session(const session_event& e) {
  using kind = session_event::kind;
  switch (e.what) {
    case kind::introduced:
      introduced(e.peer);
      break;
    case kind::refresh_failed:
      error("registration refresh failed: " + e.error.message());
      break;
    case kind::punch_failed:
      error("hole punching to \"" + e.peer + "\" failed: " + e.error.message());
      break;
    case kind::path_changed:
      path_changed(e.peer, e.address, e.path);
      break;
    case kind::path_lost:
      path_lost(e.peer, e.address, e.path);
      break;
    case kind::broker_changed:
      broker_changed(e.address, e.elapsed);
      break;
    case kind::turn_allocated:
      turn_allocated(e.address);
      break;
    case kind::turn_failed:
      error("TURN server " + to_text(e.address) + ": " + e.error.message());
      break;
    case kind::port_mapped:
      port_mapped(e);
      break;
    // The app writes these itself, with the values connect()/accept() returned.
    case kind::registered:
    case kind::refreshed:
    case kind::connected:
    case kind::closed:
      break;
  }
}

}  // namespace punch::peer_app
