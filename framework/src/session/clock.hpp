// The clock of the peer session: every deadline, round trip and timer of the session's
// private state is a time point of punch::clock, read from session_state::time (the
// options' clock, or the steady clock), never from std::chrono directly (private header).
#pragma once

#include "punch/clock.hpp"
