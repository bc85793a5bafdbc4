// The loss of a path as its probes measure it: each probe's challenge and when it went out,
// matched with the peer's answers; a reading is the share of probes unanswered, of those sent
// over a window whose probes have all had their time to be answered (private header).
#pragma once

#include "session/clock.hpp"

#include <array>
#include <cstddef>
#include <cstring>
#include <deque>
#include <span>

namespace punch::detail {

class loss_meter {
public:
  using challenge = std::array<std::byte, 8>;
  struct reading {
    std::size_t counted = 0;  // probes sent in the window
    std::size_t lost = 0;     // of them, unanswered
    double loss() const { return counted == 0 ? 0.0 : static_cast<double>(lost) / static_cast<double>(counted); }
  };

  void sent(const challenge& c, clock::time_point at) { samples_.push_back({c, at}); }

  // The peer's answer to one of our probes (its payload is the challenge): true when it was one.
  bool answered(std::span<const std::byte> payload) {
    if (payload.size() != sizeof(challenge)) return false;
    for (auto& s : samples_)
      if (!s.answered && std::memcmp(s.c.data(), payload.data(), payload.size()) == 0) return s.answered = true;
    return false;
  }

  // Probes whose `timeout` passed since the last call, unanswered: counted once each.
  std::size_t newly_lost(clock::time_point now, clock::duration timeout) {
    std::size_t lost = 0;
    for (auto& s : samples_) {
      if (s.sent + timeout > now) break;
      if (!s.judged && !s.answered) ++lost;
      s.judged = true;
    }
    return lost;
  }

  // Probes sent in (now - timeout - window, now - timeout]; older ones are forgotten.
  reading read(clock::time_point now, clock::duration window, clock::duration timeout) {
    const auto end = now - timeout, begin = end - window;
    while (!samples_.empty() && samples_.front().sent <= begin) samples_.pop_front();
    reading r;
    for (const auto& s : samples_) {
      if (s.sent > end) break;
      ++r.counted;
      if (!s.answered) ++r.lost;
    }
    return r;
  }

private:
  struct sample {
    challenge c;
    clock::time_point sent;
    bool answered = false;
    bool judged = false;
  };
  std::deque<sample> samples_;
};

}  // namespace punch::detail
