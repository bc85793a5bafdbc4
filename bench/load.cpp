// The load generator: a poll loop over non-blocking sockets, batched with sendmmsg/recvmmsg
// so that one client thread outruns a one-core server.
#include "load.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace punch::bench {
namespace {

using clock = std::chrono::steady_clock;
constexpr std::size_t max_window = 64;
constexpr std::size_t receive_batch = 32;
constexpr std::size_t datagram_size = 2048;

// One request in flight, kept until its answer or its timeout.
struct slot {
  std::uint64_t seq = 0;
  clock::time_point sent{};
  bool pending = false;
  stun::transaction_id id{};
  std::array<std::byte, stun::max_message_size> bytes{};
};

struct client_socket {
  explicit client_socket(asio::io_context& ctx) : socket(ctx) {}
  asio::ip::udp::socket socket;
  udp_endpoint local;
  udp_endpoint server;  // where its requests go, and its Introduces come from
  std::vector<slot> slots;  // a ring indexed by seq, larger than the window
  std::uint64_t head = 0;   // next seq to send
  std::uint64_t tail = 0;   // oldest seq that may still be pending
  std::size_t in_flight = 0;
};

std::uint64_t seq_of(std::span<const std::byte> d) {
  std::uint64_t seq = 0;
  std::memcpy(&seq, d.data() + 8, sizeof seq);  // transaction id bytes 0..7
  return seq;
}

}  // namespace

struct load::state {
  load_options options;
  std::vector<std::unique_ptr<client_socket>> sockets;
  std::vector<pollfd> fds;
  std::size_t ring = 0;
  std::array<std::array<std::byte, datagram_size>, receive_batch> in{};
  std::vector<float> latencies;  // µs
  load_result result;
  clock::time_point last_answer{};

  void fill(std::size_t i, workload& w, clock::time_point now);
  bool drain(std::size_t i, workload& w);
  void expire(workload& w, clock::time_point now, bool all);
  load_result run(workload& w, std::chrono::milliseconds duration);
  void complete(client_socket& c, std::size_t i, workload& w, std::span<const std::byte> d,
                clock::time_point now);
  // Retires slot `seq` of socket i, if it is still pending; false for a late or unknown one.
  bool retire(std::size_t i, std::uint64_t seq, clock::time_point now);
};

load::load(asio::io_context& ctx, const udp_endpoint& server, load_options options)
    : load(ctx, std::vector<udp_endpoint>(options.sockets, server), options) {}

load::load(asio::io_context& ctx, const std::vector<udp_endpoint>& servers, load_options options)
    : s_(std::make_unique<state>()) {
  options.sockets = servers.size();
  options.window = std::clamp<std::size_t>(options.window, 1, max_window);
  s_->options = options;
  s_->ring = 1;
  while (s_->ring < 4 * options.window) s_->ring *= 2;
  for (const auto& server : servers) {
    auto c = std::make_unique<client_socket>(ctx);
    c->server = server;
    c->socket.open(server.protocol());
    c->socket.set_option(asio::socket_base::receive_buffer_size(1 << 20));
    asio::ip::address local = asio::ip::address_v4::loopback();
    if (!server.address().is_v4()) local = asio::ip::address_v6::loopback();
    else if (options.first_address != 0)
      local = asio::ip::address_v4(options.first_address + static_cast<std::uint32_t>(s_->sockets.size()));
    c->socket.bind(udp_endpoint(local, 0));
    c->socket.non_blocking(true);
    c->local = c->socket.local_endpoint();
    c->slots.resize(s_->ring);
    s_->fds.push_back({c->socket.native_handle(), POLLIN, 0});
    s_->sockets.push_back(std::move(c));
  }
}

load::~load() = default;

std::size_t load::sockets() const { return s_->sockets.size(); }

void load::aim(std::size_t socket, const udp_endpoint& server) { s_->sockets.at(socket)->server = server; }

void load::state::fill(std::size_t i, workload& w, clock::time_point now) {
  client_socket& c = *sockets[i];
  std::array<mmsghdr, max_window> msgs{};
  std::array<iovec, max_window> iov{};
  std::size_t k = 0;
  while (c.in_flight < options.window && c.head - c.tail < ring) {
    slot& s = c.slots[c.head & (ring - 1)];
    std::memcpy(s.id.data(), &c.head, sizeof c.head);
    auto bytes = w.next(i, c.local, s.bytes, s.id);
    if (bytes.empty()) break;
    s.seq = c.head;
    s.sent = now;
    s.pending = true;
    iov[k] = {s.bytes.data(), bytes.size()};
    msgs[k].msg_hdr.msg_name = const_cast<void*>(static_cast<const void*>(c.server.data()));
    msgs[k].msg_hdr.msg_namelen = static_cast<socklen_t>(c.server.size());
    msgs[k].msg_hdr.msg_iov = &iov[k];
    msgs[k].msg_hdr.msg_iovlen = 1;
    ++c.head;
    ++c.in_flight;
    ++k;
  }
  // What the kernel refuses (a full buffer) times out and counts as lost.
  if (k > 0) ::sendmmsg(c.socket.native_handle(), msgs.data(), static_cast<unsigned>(k), 0);
  result.sent += k;
}

void load::state::complete(client_socket& c, std::size_t i, workload& w, std::span<const std::byte> d,
                           clock::time_point now) {
  if (auto a = w.relayed(i, d)) {
    // Counted where it arrived: a datagram the relay dropped never completes its slot.
    if (a->sender < sockets.size() && retire(a->sender, a->seq, now)) ++result.ok;
    return;
  }
  const answer_class cls = classify(d);
  if (cls == answer_class::request && !w.echo) {
    // The broker introduces our sockets to each other (Connect): acknowledge, as a peer does.
    if (method_of(d) == wire::method::introduce) {
      std::array<std::byte, stun::header_size> ack{};
      auto a = introduce_ack(ack, d);
      ::sendto(c.socket.native_handle(), a.data(), a.size(), 0, c.server.data(),
               static_cast<socklen_t>(c.server.size()));
    }
    return;
  }
  if (cls == answer_class::other) return;
  const std::uint64_t seq = seq_of(d);
  if (!retire(i, seq, now)) return;  // a late answer to a request counted as lost
  if (cls == answer_class::success || w.echo)
    ++result.ok;
  else
    ++result.errors;
  w.answered(i, c.slots[seq & (ring - 1)].id, w.echo ? answer_class::success : cls, d);
}

bool load::state::retire(std::size_t i, std::uint64_t seq, clock::time_point now) {
  client_socket& c = *sockets[i];
  slot& s = c.slots[seq & (ring - 1)];
  if (!s.pending || s.seq != seq) return false;
  s.pending = false;
  --c.in_flight;
  last_answer = now;
  latencies.push_back(std::chrono::duration<float, std::micro>(now - s.sent).count());
  while (c.tail < c.head && !c.slots[c.tail & (ring - 1)].pending) ++c.tail;
  return true;
}

bool load::state::drain(std::size_t i, workload& w) {
  client_socket& c = *sockets[i];
  std::array<mmsghdr, receive_batch> msgs{};
  std::array<iovec, receive_batch> iov{};
  bool any = false;
  for (;;) {
    for (std::size_t k = 0; k < receive_batch; ++k) {
      iov[k] = {in[k].data(), in[k].size()};
      msgs[k].msg_hdr.msg_iov = &iov[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
    }
    const int n = ::recvmmsg(c.socket.native_handle(), msgs.data(), receive_batch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return any;
    any = true;
    const auto now = clock::now();
    for (int k = 0; k < n; ++k) complete(c, i, w, std::span<const std::byte>(in[k].data(), msgs[k].msg_len), now);
    if (static_cast<std::size_t>(n) < receive_batch) return any;
  }
}

void load::state::expire(workload& w, clock::time_point now, bool all) {
  for (std::size_t i = 0; i < sockets.size(); ++i) {
    client_socket& c = *sockets[i];
    while (c.tail < c.head) {
      slot& s = c.slots[c.tail & (ring - 1)];
      if (s.pending) {
        if (!all && now - s.sent < options.timeout) break;
        s.pending = false;
        --c.in_flight;
        ++result.lost;
        w.lost(i, s.id);
      }
      ++c.tail;
    }
  }
}

load_result load::run(workload& w, std::chrono::milliseconds duration) { return s_->run(w, duration); }

load_result load::state::run(workload& w, std::chrono::milliseconds duration) {
  result = {};
  latencies.clear();
  latencies.reserve(1 << 20);
  const auto start = clock::now();
  last_answer = start;
  auto last_expiry = start;
  auto stop = start + duration;
  bool sending = true;
  for (;;) {
    auto now = clock::now();
    if (sending && (now >= stop || w.finished())) {
      sending = false;
      stop = now;
    }
    std::size_t in_flight = 0;
    for (const auto& c : sockets) in_flight += c->in_flight;
    if (!sending && in_flight == 0) break;
    if (!sending && now - stop > options.timeout) {
      expire(w, now, true);
      break;
    }
    if (sending)
      for (std::size_t i = 0; i < sockets.size(); ++i) fill(i, w, now);
    bool any = false;
    for (std::size_t i = 0; i < sockets.size(); ++i) any = drain(i, w) || any;
    if (!any) ::poll(fds.data(), fds.size(), 1);
    if (now - last_expiry > std::chrono::milliseconds(5)) {
      expire(w, now, false);
      last_expiry = now;
    }
  }
  load_result r = result;
  r.seconds = std::chrono::duration<double>(last_answer - start).count();
  if (!latencies.empty()) {
    auto at = [&](double q) {
      auto it = latencies.begin() + static_cast<std::ptrdiff_t>(q * static_cast<double>(latencies.size() - 1));
      std::nth_element(latencies.begin(), it, latencies.end());
      return static_cast<double>(*it);
    };
    r.p50_us = at(0.50);
    r.p99_us = at(0.99);
  }
  return r;
}

}  // namespace punch::bench
