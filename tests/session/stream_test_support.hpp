// Helpers the stream tests share (stream_test.cpp, stream_message_test.cpp): seeded bytes,
// a lossy path for SCTP frames, a list of awaitables to run at once, and session options on
// the simulated network's clock.
#pragma once

#include "sim_world.hpp"

#include "punch/session.hpp"
#include "punch/transport.hpp"
#include "punch/wire/protocol.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <random>
#include <string>
#include <vector>

namespace punch::test {

inline std::vector<std::byte> random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::byte> v(n);
  for (auto& b : v) b = static_cast<std::byte>(rng());
  return v;
}

// all_of's list of awaitables, which move but do not copy.
template <typename... Awaitables>
std::vector<boost::asio::awaitable<void>> tasks(Awaitables... a) {
  std::vector<boost::asio::awaitable<void>> v;
  (v.push_back(std::move(a)), ...);
  return v;
}

// A path that loses, duplicates and delays the SCTP frames a host sends, seeded.
struct bad_path {
  std::mt19937_64 rng;
  double loss, duplication;
  std::size_t largest = 0, lost = 0, doubled = 0;
  int operator()(std::vector<std::byte>& d, const endpoint&) {
    if (!wire::looks_like_frame(d) || wire::frame_kind_of(d) != wire::frame_kind::sctp) return 1;
    largest = std::max(largest, d.size());
    std::uniform_real_distribution<double> u(0, 1);
    if (u(rng) < loss) return ++lost, 0;
    if (u(rng) < duplication) return ++doubled, 2;
    return 1;
  }
};

inline session_options on_clock(sim_world& w, const std::string& id) {
  session_options o;
  o.broker = w.broker_endpoint();
  o.id = id;
  o.clock = &w.net.clock();
  return o;
}

}  // namespace punch::test
