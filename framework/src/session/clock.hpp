// The clock of the peer session: every deadline, round trip and timer of the session's
// private state is a time point of this clock (private header).
#pragma once

#include <chrono>

namespace punch {

using clock = std::chrono::steady_clock;

}  // namespace punch
