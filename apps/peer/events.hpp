// punch-peer's --events output: one JSON object per line on stderr.
#pragma once

#include "punch/session.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <optional>
#include <string_view>

namespace punch::peer_app {

// A JSON string literal's contents: escapes '"', '\\' and control characters (RFC 8259 §7).
std::string json_escape(std::string_view text);

// Endpoint as "203.0.113.5:40000" or "[2001:db8::1]:40000".
std::string to_text(const endpoint& ep);

// The --events schema names paths with punch::to_string(path_kind); peer_events_test pins
// those names, since the schema is this app's contract.

class event_log {
public:
  using clock = std::chrono::steady_clock;

  // Disabled logs write nothing; `start` is what "ms" counts from.
  event_log(bool enabled, clock::time_point start, std::FILE* out = stderr);

  bool enabled() const noexcept { return enabled_; }
  // `key` is ours (registered) or the peer's (connected), in its text form.
  // `broker`: the one that took the registration (written when given).
  void registered(std::string_view id, const public_key& key, const endpoint& reflexive,
                  nat_mapping nat = nat_mapping::unknown, const std::optional<endpoint>& reflexive_other = {},
                  const std::optional<endpoint>& broker = {});
  // The broker stopped answering for `silent`; we are registered at `broker` now.
  void broker_changed(const endpoint& broker, std::chrono::milliseconds silent);
  void turn_allocated(const endpoint& relayed);
  void introduced(std::string_view peer);
  void connected(std::string_view peer, const public_key& key, const endpoint& remote, path_kind path);
  // A relayed connection moved to a direct path.
  void path_changed(std::string_view peer, const endpoint& remote, path_kind path);
  void path_lost(std::string_view peer, const endpoint& remote, path_kind path);
  // What our gateway granted (`e.address`, `e.detail`, `e.lifetime`), or why none did (`e.error`).
  void port_mapped(const session_event& e);
  void closed(std::string_view peer, std::string_view reason);
  // --stream: the bytes each way and the goodput of each over `took`.
  void stream_done(std::string_view peer, std::uint64_t sent, std::uint64_t received, std::chrono::milliseconds took);
  void error(std::string_view message);
  // What only the session sees: introductions, and failed refreshes while connected.
  void from_session(const session_event& e);

private:
  void path_event(std::string_view name, std::string_view peer, const endpoint& remote, path_kind path);
  long long ms() const;
  void write(const std::string& line);

  bool enabled_;
  clock::time_point start_;
  std::FILE* out_;
};

}  // namespace punch::peer_app
