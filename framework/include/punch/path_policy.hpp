// Which paths a session's connections may take, and when they switch between a direct path
// and a relayed one (session_options::path_policy; docs/nat-traversal.md, "Path policy").
#pragma once

#include "punch/export.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace punch {

enum class path_mode : std::uint8_t {
  // Direct first, the relay (punch-relay or TURN) as the fallback after relay_after, and the
  // move to a direct path when one opens later: what sessions did before there was a policy.
  any = 0,
  // Never relays: no relay or TURN allocation, no relayed pair checked or answered, and a
  // connect with no direct pair that answers fails with errc::no_direct_path. For metered links.
  direct_only = 1,
  // Never sends to the peer's own addresses: checks, frames and probes go only through our
  // punch-relay allocation or our TURN allocation, and checks or probes that reach us directly
  // are not answered (the answer would go to the peer). It hides our address from the peer's
  // network, not from the broker, which learns it by registering and hands our candidates to
  // the peers it introduces; nor from the relay. Fails with errc::no_relayed_path.
  relay_only = 2,
  // Like `any`, and then switches on loss: the connecting side probes the direct pair every
  // probe_interval (authenticated probes the peer answers), moves the connection to the relay
  // when more than loss_above of them went unanswered over loss_window, and back once the
  // direct pair lost at most clean_below over each window for clean_for; never sooner than
  // min_dwell after its last switch. Both sides need a relay, and with punch-relay both sides
  // need this mode (each keeps its allocation ready while the direct path is used).
  adaptive = 3,
};

// "any", "direct", "relay", "adaptive" (what punch-peer --path takes).
PUNCH_EXPORT const char* to_string(path_mode m) noexcept;
PUNCH_EXPORT std::optional<path_mode> parse_path_mode(std::string_view s) noexcept;

struct PUNCH_EXPORT path_policy_options {
  path_mode mode = path_mode::any;
  // adaptive only. Loss is the share of probes not answered within probe_timeout, of those
  // sent over the last loss_window (counted once probe_timeout has passed for them).
  double loss_above = 0.15;                   // to the relay above this...
  std::chrono::milliseconds loss_window{10'000};  // ...over this long
  double clean_below = 0.02;                  // back to direct at or below this...
  std::chrono::milliseconds clean_for{20'000};    // ...for this long
  std::chrono::milliseconds min_dwell{30'000};    // on a path at least this long before switching
  std::chrono::milliseconds probe_interval{100};  // a probe on the direct pair this often
  std::chrono::milliseconds probe_timeout{1000};  // unanswered this long: lost
};

}  // namespace punch
