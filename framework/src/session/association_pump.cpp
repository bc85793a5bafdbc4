// What a connection's SCTP association reads (its messages, to their streams; its events)
// and what waits for room in its send buffer: run after usrsctp's upcall, on the session's
// executor, never inside a call into usrsctp.
#include "session/association.hpp"

#include "session/connection_state.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/post.hpp>

#include <usrsctp.h>

#include <arpa/inet.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace punch::detail {

namespace {

// A 16-bit field of a notification of usrsctp's (RFC 6458 §6.1), by copy: the bytes are not
// aligned for its structs.
std::optional<std::uint16_t> field_at(std::span<const std::byte> b, std::size_t offset) {
  if (b.size() < offset + sizeof(std::uint16_t)) return std::nullopt;
  std::uint16_t v;
  std::memcpy(&v, b.data() + offset, sizeof v);
  return v;
}

}  // namespace

void association::pump() {
  pump_posted = false;
  auto self = shared_from_this();
  while (sock && !ended && !stalled) {
    sctp_rcvinfo info{};
    socklen_t info_size = sizeof info, from_size = 0;
    unsigned int info_type = 0;
    int flags = 0;
    const ssize_t n = usrsctp_recvv(sock, rx.data(), rx.size(), nullptr, &from_size, &info, &info_size, &info_type, &flags);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      // ECONNRESET: the peer aborted; anything else, the association is gone too.
      end(make_error_code(errc::stream_failed), false);
      return;
    }
    const std::span<const std::byte> got(rx.data(), static_cast<std::size_t>(n));
    if (n == 0) {
      shut_down();
      return;
    }
    if (flags & MSG_NOTIFICATION) {
      partial.insert(partial.end(), got.begin(), got.end());
      if (flags & MSG_EOR) {
        on_notification(partial);
        partial.clear();
      }
      continue;
    }
    // A message read in pieces keeps the stream and protocol id of its first piece.
    if (!in_message && info_type == SCTP_RECVV_RCVINFO) {
      partial_sid = info.rcv_sid;
      partial_ppid = ntohl(info.rcv_ppid);
    }
    in_message = !(flags & MSG_EOR);
    on_message(partial_sid, partial_ppid, got);
  }
  retry_writers();
  check_dry();
}

void association::shut_down() {
  // By the peer's SHUTDOWN (its connection::close), after which every stream's data is in,
  // or by ours.
  if (shutting) {
    end(make_error_code(errc::closed_locally), false);
  } else {
    end(make_error_code(errc::connection_closed), true);
  }
}

void association::on_message(std::uint16_t id, std::uint32_t ppid, std::span<const std::byte> bytes) {
  auto it = streams.find(id);
  auto s = it == streams.end() ? nullptr : it->second.lock();
  switch (static_cast<stream_ppid>(ppid)) {
    case stream_ppid::open: {
      // Only the peer's ids (the other parity), each opened once, with options we can serve.
      if (it != streams.end() || (id % 2) == (next_id % 2) || id >= stream_count || opened_by_peer.test(id)) return;
      auto options = decode_open(bytes);
      if (!options) return;
      opened_by_peer.set(id);
      auto fresh = make_stream(id);
      fresh->options = *options;
      adopt_early(*fresh);
      if (!acceptors.empty()) {
        auto h = std::move(acceptors.front());
        acceptors.pop_front();
        hand_over(fresh, std::move(h));
      } else {
        backlog.push_back(std::move(fresh));
      }
      return;
    }
    case stream_ppid::message:
    case stream_ppid::empty_message:
      return on_stream_message(id, ppid, bytes, s);
    case stream_ppid::data:
      // A stream whose handles are all gone: its bytes have no reader.
      if (!s || s->ended || s->options.mode != stream_mode::bytes) return;
      s->inbound.emplace_back(bytes.begin(), bytes.end());
      s->buffered += bytes.size();
      if (s->buffered > stream_buffer) {
        stalled = true;
        stalled_by = s;
      }
      s->serve_reader();
      return;
    case stream_ppid::fin:
      if (!s) return;
      s->on_fin(bytes);
      return;
  }
  // Another protocol id: not ours, dropped.
}

void association::on_notification(std::span<const std::byte> n) {
  const auto type = field_at(n, offsetof(sctp_assoc_change, sac_type));
  if (type == SCTP_ASSOC_CHANGE) {
    const auto state = field_at(n, offsetof(sctp_assoc_change, sac_state));
    if (!state) return;
    switch (*state) {
      case SCTP_COMM_UP:
        up = true;
        for (auto& o : std::exchange(openers, {})) open_one(o.options, std::move(o.handler));
        break;
      case SCTP_SHUTDOWN_COMP:
        // Our SHUTDOWN was acknowledged (everything written was delivered), or the peer's
        // was (everything it wrote was read).
        shut_down();
        break;
      case SCTP_COMM_LOST:
      case SCTP_CANT_STR_ASSOC:
        end(make_error_code(errc::stream_failed), false);
        break;
      default:
        break;
    }
  }
  // SCTP_SENDER_DRY_EVENT: pump() looks at the closes waiting for it after every read.
}

void association::retry_writers() {
  if (!up || ended) return;
  for (auto& s : live_streams()) s->write_pending();
}

void association::open_one(const stream_options& options, completion_handler<stream> h) {
  if (ended) return asio::post(ex, asio::append(std::move(h), end_reason, stream{}));
  if (next_id >= stream_count) return asio::post(ex, asio::append(std::move(h), make_error_code(errc::too_many_streams), stream{}));
  auto s = make_stream(next_id);
  next_id += 2;
  s->options = options;
  s->opener = std::move(h);
  s->write_pending();
}

void association::hand_over(std::shared_ptr<stream_state> s, completion_handler<stream> h) {
  s->conn = conn.lock();
  asio::post(ex, asio::append(std::move(h), error_code{}, stream(std::move(s))));
}

}  // namespace punch::detail
