// The clock of the peer session: every deadline, round trip and timer of the session's
// private state is a time point of punch::clock, read from session_state::time (the
// options' clock, or the steady clock), never from std::chrono directly; and the grid that
// the connections' tickers wake on (private header).
#pragma once

#include "punch/clock.hpp"
#include "punch/session.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

namespace punch::detail {

// Every connection's ticker wakes on its session's grid: multiples of the grain on the
// session's clock, shifted by the session's phase. One session's many idle connections then
// wake the process a few times a second for a batch of keepalives each, not 2,000 times a
// second for one (docs/performance.md, "Many connections in one session"); sessions have
// their own phase, so that many sessions on one machine do not all send at the same instant
// (a burst that the receiving socket's buffer may not hold). The phase comes from the
// session's id, not from chance, so that a simulated run still repeats exactly.
struct tick_grid {
  clock::duration grain{1};
  clock::duration phase{};  // in [0, grain)

  clock::time_point floor(clock::time_point t) const {
    auto r = (t.time_since_epoch() - phase) % grain;
    if (r < clock::duration::zero()) r += grain;
    return t - r;
  }
  clock::time_point ceil(clock::time_point t) const {
    const auto f = floor(t);
    return f == t ? t : f + grain;
  }
};

// The grain is at most an eighth of the keepalive, so a keepalive sent on the grid point
// before it is due never comes due again at once; and at most 100 ms.
inline tick_grid tick_grid_of(const session_options& o) {
  tick_grid g;
  g.grain = std::clamp<clock::duration>(o.connection_keepalive / 8, std::chrono::milliseconds(1),
                                        std::chrono::milliseconds(100));
  g.phase = clock::duration(static_cast<clock::duration::rep>(std::hash<std::string>{}(o.id) %
                                                              static_cast<std::size_t>(g.grain.count())));
  return g;
}

}  // namespace punch::detail
