// The clock of the peer session: every deadline, round trip and timer of the session's
// private state is a time point of punch::clock, read from session_state::time (the
// options' clock, or the steady clock), never from std::chrono directly; and the grid that
// the connections' tickers wake on (private header).
#pragma once

#include "punch/clock.hpp"
#include "punch/session.hpp"

#include <algorithm>
#include <chrono>

namespace punch::detail {

// Every connection's ticker wakes on one grid, multiples of the grain on the session's clock,
// so that 10,000 idle connections wake the process a few times a second for a batch of
// keepalives each, not 2,000 times a second for one (docs/performance.md, "Many connections
// in one session"). At most an eighth of the keepalive: a keepalive sent on the grid point
// before it is due never comes due again at once.
inline clock::duration tick_grain(const session_options& o) {
  return std::clamp<clock::duration>(o.connection_keepalive / 8, std::chrono::milliseconds(1),
                                     std::chrono::milliseconds(100));
}
inline clock::time_point grid_floor(clock::time_point t, clock::duration grain) {
  return t - t.time_since_epoch() % grain;
}
inline clock::time_point grid_ceil(clock::time_point t, clock::duration grain) {
  const auto f = grid_floor(t, grain);
  return f == t ? t : f + grain;
}

}  // namespace punch::detail
