// A connection's SCTP association (usrsctp, AF_CONN, no threads): its socket and options, the
// packets it exchanges in the connection's sctp frames, and what it reads: messages for the
// streams, and events (up, lost, shut down, everything acknowledged).
#include "session/association.hpp"

#include "session/connection_state.hpp"
#include "session/datagram_batch.hpp"
#include "session/sctp_packet.hpp"
#include "session/sctp_stack.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <usrsctp.h>

#include <arpa/inet.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace punch::detail {

namespace {

// Both sides use this port: an association is told apart by its registered address.
constexpr std::uint16_t sctp_port = 5000;
constexpr std::size_t sctp_common_header = 12;  // RFC 9260 §3.1
constexpr std::chrono::milliseconds tick{10};

sockaddr_conn address_of(std::uintptr_t a) {
  sockaddr_conn s{};
  s.sconn_family = AF_CONN;
  s.sconn_port = htons(sctp_port);
  s.sconn_addr = reinterpret_cast<void*>(a);
  return s;
}

// usrsctp calls it inside our own calls into it (it has no threads): look once they return.
void upcall(struct socket*, void* arg, int) {
  if (auto a = sctp_stack::find(reinterpret_cast<std::uintptr_t>(arg))) a->schedule_pump();
}

template <typename T>
bool set(struct socket* s, int level, int name, const T& value) {
  return usrsctp_setsockopt(s, level, name, &value, sizeof value) == 0;
}

std::uint16_t port_at(std::span<const std::byte> p, std::size_t at) {
  return static_cast<std::uint16_t>(std::to_integer<unsigned>(p[at]) << 8 | std::to_integer<unsigned>(p[at + 1]));
}

}  // namespace

association::association(std::shared_ptr<connection_state> c)
    : conn(c),
      ex(c->session->ex),
      next_id(c->attempt->controlling ? 0 : 1),
      shut(c->session->ex, c->session->time),
      rx(64 * 1024),
      max_packet(c->session->options.stream_packet_size),
      stream_buffer(c->session->options.stream_buffer) {}

association::~association() { close_socket(); }

bool association::start(error_code& ec) {
  stack = sctp_stack::acquire();
  address = stack->add(weak_from_this());
  sock = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, nullptr, nullptr, 0, nullptr);
  ec = make_error_code(errc::stream_failed);
  if (!sock) return false;
  usrsctp_set_upcall(sock, &upcall, reinterpret_cast<void*>(address));
  if (usrsctp_set_non_blocking(sock, 1) != 0) return false;
  // The connection's end ends the association at once (an ABORT), not after a linger.
  const linger no_linger{1, 0};
  const int on = 1, interleave = 0, buffer = 1024 * 1024;
  bool ok = set(sock, SOL_SOCKET, SO_LINGER, no_linger) && set(sock, IPPROTO_SCTP, SCTP_RECVRCVINFO, on) &&
            set(sock, IPPROTO_SCTP, SCTP_NODELAY, on) &&
            // A message read in pieces is not interleaved with others (RFC 6458 §8.1.20).
            set(sock, IPPROTO_SCTP, SCTP_FRAGMENT_INTERLEAVE, interleave) &&
            // usrsctp's 256 KiB windows are too small for a path of 100 ms.
            set(sock, SOL_SOCKET, SO_RCVBUF, buffer) && set(sock, SOL_SOCKET, SO_SNDBUF, buffer);
  for (std::uint16_t type : {SCTP_ASSOC_CHANGE, SCTP_SENDER_DRY_EVENT}) {
    sctp_event e{};
    e.se_assoc_id = SCTP_ALL_ASSOC;
    e.se_type = type;
    e.se_on = 1;
    ok = ok && set(sock, IPPROTO_SCTP, SCTP_EVENT, e);
  }
  // No path MTU discovery (nothing answers its probes inside a connection): packets of
  // stream_packet_size at most. No heartbeats: the connection has its keepalive.
  sctp_paddrparams p{};
  p.spp_flags = SPP_PMTUD_DISABLE | SPP_HB_DISABLE;
  // usrsctp's MTU leaves out the common header (measured: 1200 gives packets of 1212).
  p.spp_pathmtu = static_cast<std::uint32_t>(max_packet - sctp_common_header);
  sctp_initmsg init{};
  init.sinit_num_ostreams = stream_count;
  init.sinit_max_instreams = stream_count;
  ok = ok && set(sock, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, p) && set(sock, IPPROTO_SCTP, SCTP_INITMSG, init);
  auto a = address_of(address);
  ok = ok && usrsctp_bind(sock, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  // Both sides connect: SCTP's simultaneous open (RFC 9260 §5.2.1), so neither waits for
  // the other to listen.
  ok = ok && (usrsctp_connect(sock, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 || errno == EINPROGRESS);
  if (!ok) return false;
  ec = {};
  asio::co_spawn(ex, tick_loop(weak_from_this()), asio::detached);
  return true;
}

void association::close_socket() {
  if (sock) {
    usrsctp_set_upcall(sock, nullptr, nullptr);
    usrsctp_close(sock);
    sock = nullptr;
  }
  // What usrsctp still sends for this association (its ABORT) finds nobody and is dropped.
  if (address) stack->remove(std::exchange(address, 0));
}

asio::awaitable<void> association::tick_loop(std::weak_ptr<association> weak) {
  for (;;) {
    auto a = weak.lock();
    if (!a || !a->sock) co_return;
    auto c = a->conn.lock();
    if (!c) co_return;
    punch::clock& time = c->session->time;
    a->stack->advance(time.now());
    punch::timer t(a->ex, time, tick);
    a.reset();
    c.reset();
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

struct association::outboxes {
  static constexpr std::size_t frames = 32;  // per batch
  explicit outboxes(std::size_t frame_size) : box{frame_batch(frames, frame_size), frame_batch(frames, frame_size)} {}
  std::array<frame_batch, 2> box;
  std::size_t filling = 0;
  bool sending = false;
  bool flush_posted = false;
};

void association::output(std::span<const std::byte> packet) {
  auto c = conn.lock();
  if (!c || !c->open) return;
  largest_packet = std::max(largest_packet, packet.size());
  if (!out) out = std::make_shared<outboxes>(wire::frame_overhead + max_packet);
  frame_batch& b = out->box[out->filling];
  if (b.full() || wire::frame_overhead + packet.size() > b.frame_size()) {
    // Both batches taken (or a packet above stream_packet_size): this one goes alone, in a
    // frame that lives until its send completes.
    auto frame = std::make_shared<std::vector<std::byte>>(wire::frame_overhead + packet.size());
    c->seal(wire::frame_kind::sctp, packet, *frame);
    c->out().async_send_to(asio::buffer(*frame), c->remote, [frame](error_code, std::size_t) {});
  } else {
    b.add(c->seal(wire::frame_kind::sctp, packet, b.next_slot()), c->remote);
    if (b.full()) {
      flush_output();
    } else if (!out->flush_posted && !out->sending) {  // a send in flight flushes when it completes
      out->flush_posted = true;
      asio::post(ex, [weak = weak_from_this()] {
        if (auto a = weak.lock()) a->flush_output();
      });
    }
  }
  c->sent_data();
}

void association::flush_output() {
  out->flush_posted = false;
  if (out->sending) return;
  frame_batch& b = out->box[out->filling];
  if (b.empty()) return;
  auto c = conn.lock();
  if (!c || !c->open) return b.clear();
  // The frames go on the connection's socket now; a path move since they were sealed sends
  // them to the old address, which SCTP retransmits to the new one if they are lost.
  out->sending = true;
  out->filling ^= 1;
  c->out().async_send_batch(b.queued(), [o = out, &b, weak = weak_from_this()](error_code, std::size_t) {
    b.clear();
    o->sending = false;
    if (auto a = weak.lock(); a && !o->box[o->filling].empty()) a->flush_output();
  });
}

void association::schedule_pump() {
  if (pump_posted || ended) return;
  pump_posted = true;
  asio::post(ex, [weak = weak_from_this()] {
    if (auto a = weak.lock()) a->pump();
  });
}

std::ptrdiff_t association::send(std::uint16_t id, stream_ppid ppid, std::span<const std::byte> bytes,
                                 error_code& ec) {
  if (ended || !sock) {
    ec = end_reason ? end_reason : make_error_code(errc::stream_failed);
    return -1;
  }
  sctp_sndinfo info{};
  info.snd_sid = id;
  info.snd_ppid = htonl(static_cast<std::uint32_t>(ppid));
  const ssize_t n = usrsctp_sendv(sock, bytes.data(), bytes.size(), nullptr, 0, &info, sizeof info,
                                  SCTP_SENDV_SNDINFO, 0);
  if (n >= 0) return n;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
  ec = make_error_code(errc::stream_failed);
  return -1;
}

void association::check_dry() {
  if (!sock || !up) return;
  sctp_status status{};
  socklen_t size = sizeof status;
  if (usrsctp_getsockopt(sock, IPPROTO_SCTP, SCTP_STATUS, &status, &size) != 0) return;
  if (status.sstat_unackdata != 0 || status.sstat_penddata != 0) return;
  for (auto& s : live_streams())
    if (s->finished && !s->fin_pending)
      for (auto& h : std::exchange(s->closers, {})) asio::post(ex, asio::append(std::move(h), error_code{}));
}

std::vector<std::shared_ptr<stream_state>> association::live_streams() const {
  std::vector<std::shared_ptr<stream_state>> live;
  for (auto& [id, weak] : streams)
    if (auto s = weak.lock()) live.push_back(std::move(s));
  return live;
}

std::shared_ptr<stream_state> association::make_stream(std::uint16_t id) {
  auto s = std::make_shared<stream_state>(nullptr, shared_from_this(), id);
  streams[id] = s;
  return s;
}

void association::end(error_code why, bool graceful) {
  if (ended) return;
  ended = true;
  end_reason = why;
  for (auto& o : std::exchange(openers, {})) asio::post(ex, asio::append(std::move(o.handler), why, stream{}));
  for (auto& h : std::exchange(acceptors, {})) asio::post(ex, asio::append(std::move(h), why, stream{}));
  for (auto& s : live_streams()) {
    if (graceful) s->peer_finished = true;
    s->end(why);
  }
  shut.fire();
  close_socket();
}

// ---- what the connection calls ----

void sctp_input(connection_state& c, std::span<const std::byte> packet) {
  if (!c.open) return;
  // RFC 9260 §3.1: the common header, with the ports both sides use, and chunks that fit
  // (sctp_packet.hpp). Anything else, or more than a packet may be, never reaches usrsctp.
  if (packet.size() < sctp_common_header || packet.size() > c.session->options.stream_packet_size ||
      port_at(packet, 0) != sctp_port || port_at(packet, 2) != sctp_port || !sctp_packet_well_formed(packet)) {
    ++c.session->stats.stream_packets_dropped;
    return;
  }
  if (!c.streams) {
    // The peer opened a stream first: our INIT goes out before its packet goes in, so that
    // the two INITs meet as a simultaneous open.
    c.streams = std::make_shared<association>(c.shared_from_this());
    error_code ec;
    if (!c.streams->start(ec)) c.streams->end(ec, false);
  }
  if (c.streams->ended) {
    ++c.session->stats.stream_packets_dropped;
    return;
  }
  usrsctp_conninput(reinterpret_cast<void*>(c.streams->address), packet.data(), packet.size(), 0);
}

void end_streams(connection_state& c) {
  if (!c.streams) return;
  // The peer's close is the end of its data: readers get eof after what was buffered.
  const bool graceful = c.close_reason == errc::connection_closed;
  c.streams->end(c.close_reason, graceful);
}

asio::awaitable<void> shut_down_streams(std::shared_ptr<connection_state> c) {
  auto a = c->streams;
  if (!a || a->ended || !a->up || !a->sock) co_return;
  // SHUTDOWN waits for every byte queued to be acknowledged (RFC 9260 §9.2).
  a->shutting = true;
  if (usrsctp_shutdown(a->sock, SHUT_WR) != 0) co_return;
  co_await a->shut.wait_until(c->session->time.now() + c->session->options.stream_shutdown_timeout);
}

}  // namespace punch::detail
