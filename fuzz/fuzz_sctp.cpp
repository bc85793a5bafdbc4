// libFuzzer target for the SCTP input path of streams: each input is the plaintext of one sctp
// frame (kind 6) that arrives on an established connection, handed to detail::sctp_input,
// the function the connection calls once the frame authenticated. So the bytes reach usrsctp
// as a peer's packet would, on an association that is up with a stream open on it.
// Malformed or oversized packets must be dropped and counted (stats.stream_packets_dropped),
// never crash; what the association answers goes to the peer as it would on a network.
//
// usrsctp is one stack per process: LLVMFuzzerInitialize builds two connections (alice, bob)
// on fake sockets, joined in memory, and brings their association up once; inputs go to
// alice's. Time moves by hand (a clock the fuzzer sets; usrsctp's timers are advanced with it
// after each input), so no run waits. An input that ends the association (an ABORT with the
// right tag) gets a new one for the next input.
//
// Input: byte 0: bit 0 write alice's verification tag into the packet (bytes 4..7, so that
// usrsctp takes it as part of the association), bit 1 write the CRC32c (bytes 8..11), bit 2
// let the clock jump 30 s afterwards (retransmission and shutdown timers); the rest is the packet.
// PUNCH_FUZZ_VERBOSE=1 says when an association comes up (the first, and after each end).
// PUNCH_FUZZ_SCTP_SEEDS=<dir>: writes the packets of the association's start and of a short
// transfer as seeds (fuzz/corpus/sctp/) and exits.
#include "fake_transport.hpp"

#include "session/association.hpp"
#include "session/connection_state.hpp"
#include "session/sctp_stack.hpp"
#include "session/session_state.hpp"

#include "function_clock.hpp"

#include "punch/connection.hpp"
#include "punch/stream.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>

#include <sodium.h>
#include <usrsctp.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
using namespace punch;
using namespace punch::detail;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_sctp: %s\n", what);
    std::abort();
  }
}

endpoint ep(const char* a, unsigned short port) { return {asio::ip::make_address(a), port}; }
const endpoint alice_ep = ep("198.51.100.1", 4000);
const endpoint bob_ep = ep("198.51.100.2", 5000);

clock::time_point now_ = clock::time_point{} + std::chrono::hours(1);
test::function_clock hand_clock([] { return now_; });

// One peer: a session's state on a fake socket and its connection to the other.
struct peer {
  fuzz::fake_transport net;
  std::shared_ptr<session_state> session;
  std::shared_ptr<connection_state> conn;
  stream s;  // the stream open on the association

  peer(asio::io_context& ctx, const char* id, const endpoint& local) : net(ctx.get_executor()) {
    session_options o;
    o.id = id;
    o.local = local;
    o.host_candidates = {local};
    o.clock = &hand_clock;
    o.port_mapping.enabled = false;
    session = std::make_shared<session_state>(net, o);
  }
  // A fresh connection to `remote` with the keys given (bob's tx is alice's rx).
  void connect(const endpoint& remote, bool controlling, std::uint8_t tx, std::uint8_t rx) {
    auto a = std::make_shared<punch_attempt>(session->ex, session->time);
    a->controlling = controlling;
    a->peer = controlling ? "bob" : "alice";
    a->selected = remote_candidate{remote, path_kind::reflexive, 0};
    conn = std::make_shared<connection_state>(session, a);
    conn->tx_key.fill(std::byte{tx});
    conn->rx_key.fill(std::byte{rx});
    s = stream{};
  }
};

struct world {
  asio::io_context ctx;
  peer alice{ctx, "alice", alice_ep};
  peer bob{ctx, "bob", bob_ep};
  std::uint32_t alice_vtag = 0;  // the tag bob's packets carry, which alice checks
  std::vector<std::vector<std::byte>> capture;  // plaintexts to alice, when writing seeds
  bool capturing = false;
};
world* w = nullptr;

// Hands the frames one side sent to the other: opened (authenticated, as on_frame does) and
// given to sctp_input. Returns how many moved.
std::size_t carry(peer& from, peer& to, bool to_alice) {
  auto& sent = from.net.last->sent;
  std::vector<fuzz::datagram> frames;
  frames.swap(sent);
  for (auto& d : frames) {
    if (!to.conn || !wire::looks_like_frame(d.bytes) || wire::frame_kind_of(d.bytes) != wire::frame_kind::sctp) continue;
    auto plain = to.conn->open_frame(d.bytes);
    if (!plain) continue;
    if (to_alice && plain->size() >= 12) {
      std::uint32_t tag;
      std::memcpy(&tag, plain->data() + 4, 4);
      if (tag != 0) w->alice_vtag = tag;
      if (w->capturing) w->capture.emplace_back(plain->begin(), plain->end());
    }
    sctp_input(*to.conn, *plain);
  }
  return frames.size();
}

// Runs what is ready and carries packets both ways until nothing moves (bounded).
void settle(int rounds = 64) {
  for (int i = 0; i < rounds; ++i) {
    w->ctx.restart();
    w->ctx.poll();
    const std::size_t moved = carry(w->alice, w->bob, false) + carry(w->bob, w->alice, true);
    if (moved == 0) break;
  }
}

// usrsctp's timers, moved by hand: `d` later, in steps of `step` (the association's tick is
// 10 ms; a longer step fires each timer due in it once).
void advance(std::chrono::milliseconds d, std::chrono::milliseconds step = std::chrono::milliseconds{10}) {
  for (auto left = d; left.count() > 0; left -= step) {
    now_ += step;
    for (peer* p : {&w->alice, &w->bob})
      if (p->conn && p->conn->streams && p->conn->streams->stack) p->conn->streams->stack->advance(now_);
    settle(4);
  }
}

// A new pair of connections, their association up and one stream open from alice to bob.
void establish() {
  static std::uint8_t generation = 0;
  ++generation;
  w->alice.connect(bob_ep, true, generation, static_cast<std::uint8_t>(generation + 100));
  w->bob.connect(alice_ep, false, static_cast<std::uint8_t>(generation + 100), generation);
  w->alice_vtag = 0;
  connection(w->alice.conn).open_stream([](error_code ec, stream s) {
    if (!ec) w->alice.s = std::move(s);
  });
  connection(w->bob.conn).accept_stream([](error_code ec, stream s) {
    if (!ec) w->bob.s = std::move(s);
  });
  for (int i = 0; i < 200 && !(w->alice.s && w->bob.s); ++i) advance(std::chrono::milliseconds{10});
  expect(w->alice.s && w->bob.s && w->alice_vtag != 0, "the association did not come up");
  if (std::getenv("PUNCH_FUZZ_VERBOSE"))
    std::fprintf(stderr, "fuzz_sctp: association %d up, alice's tag %08x\n", generation, w->alice_vtag);
}

void write_seeds(const char* dir) {
  w->capturing = true;
  establish();
  // A short transfer each way: DATA, SACK, and the fins.
  static const std::string text(3000, 'x');
  asio::async_write(w->bob.s, asio::buffer(text), [](error_code, std::size_t) {});
  asio::async_write(w->alice.s, asio::buffer(text), [](error_code, std::size_t) {});
  advance(std::chrono::milliseconds{200});
  w->bob.s.close([](error_code) {});
  advance(std::chrono::milliseconds{200});
  int n = 0;
  for (const auto& p : w->capture) {
    const std::string path = std::string(dir) + "/packet_" + std::to_string(n++);
    std::ofstream f(path, std::ios::binary);
    // The live association's tag and a checksum written in (an INIT's tag stays 0).
    std::uint32_t tag;
    std::memcpy(&tag, p.data() + 4, 4);
    const char flags = tag == 0 ? 2 : 3;
    f.write(&flags, 1);
    f.write(reinterpret_cast<const char*>(p.data()), static_cast<std::streamsize>(p.size()));
  }
  std::printf("fuzz_sctp: %d seeds written to %s\n", n, dir);
  std::exit(0);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (sodium_init() < 0) std::abort();
  w = new world;  // lives as long as the process: usrsctp's stack is the process's
  if (const char* dir = std::getenv("PUNCH_FUZZ_SCTP_SEEDS")) write_seeds(dir);
  establish();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  if (!w->alice.conn->streams || w->alice.conn->streams->ended || !w->alice.conn->open) establish();
  const std::uint8_t flags = data[0];
  std::vector<std::byte> packet(reinterpret_cast<const std::byte*>(data + 1),
                                reinterpret_cast<const std::byte*>(data + size));
  if ((flags & 1) && packet.size() >= 8) std::memcpy(packet.data() + 4, &w->alice_vtag, 4);
  if ((flags & 2) && packet.size() >= 12) {
    std::memset(packet.data() + 8, 0, 4);
    const std::uint32_t crc = usrsctp_crc32c(packet.data(), packet.size());
    std::memcpy(packet.data() + 8, &crc, 4);
  }

  auto& c = *w->alice.conn;
  const std::size_t max = c.session->options.stream_packet_size;
  auto port = [&](std::size_t at) { return std::to_integer<unsigned>(packet[at]) << 8 | std::to_integer<unsigned>(packet[at + 1]); };
  const bool outside = packet.size() < 12 || packet.size() > max || port(0) != 5000 || port(2) != 5000;
  const auto dropped = c.session->stats.stream_packets_dropped;
  sctp_input(c, packet);
  // What sctp_input refuses before usrsctp sees it (shorter than the common header, longer
  // than a packet may be, ports other than the association's 5000) is counted, every time.
  if (outside) expect(c.session->stats.stream_packets_dropped == dropped + 1, "a packet of a wrong size or with wrong ports was not counted");
  settle();
  if (flags & 4) advance(std::chrono::seconds{30}, std::chrono::seconds{1});
  return 0;
}
