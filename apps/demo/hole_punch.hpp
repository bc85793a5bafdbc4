// Hole punching by hand on plain sim sockets: a reflecting broker, reflexive address
// discovery, and rounds of simultaneous sends.
#pragma once

#include "narrator.hpp"

#include "punch/transport.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace punch_demo {

struct peer {
  std::string name;
  punch::datagram_socket socket;
};

// The stand-in broker: answers every datagram with the sender's address as it sees it
// ("198.51.100.1:5000"). Returns when its receive is cancelled.
boost::asio::awaitable<void> reflect(punch::datagram_socket& socket);

// Asks the broker how `p` looks from the outside; a few attempts, nullopt if none answered.
boost::asio::awaitable<std::optional<punch::endpoint>> discover(peer& p,
                                                                punch::endpoint broker,
                                                                const narrator& say);

struct punch_outcome {
  int first_heard = 0;  // the round in which the other peer was first heard; 0: never
};

// Sends to `target` once per round and listens until the round ends. A datagram from an
// unexpected endpoint becomes the new target (a peer-reflexive address, as in ICE); late
// answers from `broker` are ignored.
boost::asio::awaitable<punch_outcome> punch(peer& p, punch::endpoint target,
                                            punch::endpoint broker, int rounds,
                                            std::chrono::milliseconds round_length,
                                            const narrator& say);

}  // namespace punch_demo
