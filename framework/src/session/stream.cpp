// A stream's state and its public handle's operations (read, write, close), and the
// connection's open_stream and accept_stream, which start the association at first use.
#include "session/association.hpp"

#include "session/connection_state.hpp"
#include "session/stream_completion.hpp"

#include <algorithm>
#include <cstring>

namespace punch {

using namespace detail;

namespace {
// One SCTP message per write at most: SCTP cuts it into packets, and a message this size
// always fits the send buffer's room once the buffer drained below it.
constexpr std::size_t max_message = 16 * 1024;
}  // namespace

namespace detail {

stream_state::stream_state(std::shared_ptr<connection_state> c, std::shared_ptr<association> a, std::uint16_t i)
    : conn(std::move(c)), assoc(a), ex(a->ex), id(i) {}

stream_state::~stream_state() {
  auto a = assoc.lock();
  if (!a) return;
  a->streams.erase(id);
  // Dropped unclosed: the peer still reads eof, if the fin fits now (best effort).
  error_code ec;
  if (!finished && !ended && a->up) a->send(id, stream_ppid::fin, fin_message(), ec);
  if (a->stalled && a->stalled_by.expired()) {
    a->stalled = false;
    a->schedule_pump();
  }
}

std::size_t stream_state::take(asio::mutable_buffer to) {
  std::size_t n = 0;
  auto* out = static_cast<std::byte*>(to.data());
  while (n < to.size() && !inbound.empty()) {
    auto& front = inbound.front();
    const std::size_t k = std::min(to.size() - n, front.size() - offset);
    std::memcpy(out + n, front.data() + offset, k);
    n += k;
    offset += k;
    if (offset == front.size()) {
      inbound.pop_front();
      offset = 0;
    }
  }
  buffered -= n;
  release_stall();
  return n;
}

void stream_state::release_stall() {
  // This stream held reading from SCTP back: it has room again.
  if (auto a = assoc.lock(); a && a->stalled && a->stalled_by.lock().get() == this && buffered <= a->stream_buffer) {
    a->stalled = false;
    a->schedule_pump();
  }
}

void stream_state::serve_reader() {
  if (options.mode == stream_mode::messages) return serve_message_reader();
  if (!reader) return;
  if (buffered > 0) {
    auto r = std::move(*reader);
    reader.reset();
    const std::size_t n = take(r.to);
    return complete_waiting(ex, std::move(r.handler), error_code{}, n);
  }
  if (!peer_finished && !ended) return;
  auto r = std::move(*reader);
  reader.reset();
  // A graceful end (the peer's fin, its connection's close) is the end of the data.
  const bool eof = peer_finished || end_reason == errc::connection_closed;
  complete_waiting(ex, std::move(r.handler), eof ? error_code(asio::error::eof) : end_reason, std::size_t{0});
}

void stream_state::write_pending() {
  auto a = assoc.lock();
  if (!a || ended) return;
  error_code ec;
  if (opener) {
    const auto n = a->send(id, stream_ppid::open, encode_open(options), ec);
    if (n == 0) return;  // no room yet: the open keeps its place before any write
    auto h = std::move(*opener);
    opener.reset();
    if (n < 0) return complete(ex, std::move(h), ec, stream{});
    a->hand_over(shared_from_this(), std::move(h));
  }
  if (writer && options.mode == stream_mode::messages) {
    if (!send_waiting_message(*a)) return;
  } else if (writer) {
    const auto from = writer->from;
    const auto n = a->send(id, stream_ppid::data,
                           std::span(static_cast<const std::byte*>(from.data()), std::min(from.size(), max_message)), ec);
    if (n == 0) return;
    auto w = std::move(*writer);
    writer.reset();
    if (n < 0) return complete_waiting(ex, std::move(w.handler), ec, std::size_t{0});
    complete_waiting(ex, std::move(w.handler), error_code{}, static_cast<std::size_t>(n));
  }
  if (fin_pending) {
    const auto n = a->send(id, stream_ppid::fin, fin_message(), ec);
    if (n == 0) return;
    fin_pending = false;
    if (n < 0) {
      for (auto& h : std::exchange(closers, {})) complete(ex, std::move(h), ec);
      return;
    }
    a->check_dry();
  }
}

error_code stream_state::write_refusal() const {
  if (ended) return end_reason;
  if (finished) return make_error_code(errc::stream_closed);
  if (writer) return asio::error::in_progress;
  return {};
}

void stream_state::end(error_code why) {
  if (ended) return;
  ended = true;
  end_reason = why;
  if (opener) complete(ex, std::exchange(opener, std::nullopt).value(), why, stream{});
  if (writer) {
    auto w = std::move(*writer);
    writer.reset();
    complete_waiting(ex, std::move(w.handler), why, std::size_t{0});
  }
  // Our fin was delivered if SCTP shut down gracefully (our SHUTDOWN or the peer's: each
  // completes only once the data queued before it was acknowledged); otherwise nobody knows.
  const bool delivered = finished && !fin_pending && (why == errc::closed_locally || why == errc::connection_closed);
  for (auto& h : std::exchange(closers, {})) complete(ex, std::move(h), delivered ? error_code{} : why);
  serve_reader();
}

}  // namespace detail

// ---- the public handles ----

bool streams_available() noexcept { return true; }

// An empty handle has no executor (a default-constructed one) and no id.
stream::executor_type stream::get_executor() const { return state_ ? state_->ex : executor_type{}; }
std::uint16_t stream::id() const { return state_ ? state_->id : 0; }
std::size_t stream::buffered() const { return state_ ? state_->buffered : 0; }
stream_options stream::options() const { return state_ ? state_->options : stream_options{}; }
bool stream::is_open() const { return state_ && !state_->ended && !state_->finished && !state_->peer_finished; }

void stream::async_read_some_(std::shared_ptr<stream_state> s, asio::mutable_buffer b, completion_handler<std::size_t> h) {
  if (!s) return complete_now(std::move(h), make_error_code(errc::empty_stream), std::size_t{0});
  if (s->options.mode != stream_mode::bytes)
    return complete(s->ex, std::move(h), make_error_code(errc::wrong_stream_mode), std::size_t{0});
  if (b.size() == 0 || s->reader) {
    const error_code ec = b.size() == 0 ? error_code{} : error_code(asio::error::in_progress);
    return complete(s->ex, std::move(h), ec, std::size_t{0});
  }
  cancel_through<&stream_state::reader>(s, asio::get_associated_cancellation_slot(h));
  s->reader = stream_state::pending_read{b, std::move(h)};
  s->serve_reader();
}

void stream::async_write_some_(std::shared_ptr<stream_state> s, asio::const_buffer b, completion_handler<std::size_t> h) {
  if (!s) return complete_now(std::move(h), make_error_code(errc::empty_stream), std::size_t{0});
  error_code ec = s->write_refusal();
  if (s->options.mode != stream_mode::bytes) ec = make_error_code(errc::wrong_stream_mode);
  if (ec || b.size() == 0) return complete(s->ex, std::move(h), ec, std::size_t{0});
  cancel_through<&stream_state::writer>(s, asio::get_associated_cancellation_slot(h));
  s->writer = stream_state::pending_write{b, std::move(h)};
  s->write_pending();
}

void stream::async_close_(std::shared_ptr<stream_state> s, completion_handler<void> h) {
  if (!s) return complete_now(std::move(h), make_error_code(errc::empty_stream));
  if (s->ended) return complete(s->ex, std::move(h), s->finished ? error_code{} : s->end_reason);
  s->closers.push_back(std::move(h));
  if (s->finished) {
    if (auto a = s->assoc.lock()) a->check_dry();
    return;
  }
  s->finished = true;
  s->fin_pending = true;
  s->write_pending();
}

namespace {
// The connection's association, started at its first use. Null (and why) if it cannot be.
std::shared_ptr<association> association_of(const std::shared_ptr<connection_state>& c, error_code& ec) {
  if (!c) {
    ec = make_error_code(errc::empty_connection);
    return nullptr;
  }
  if (!c->open) {
    ec = c->close_reason;
    return nullptr;
  }
  if (!c->streams) {
    c->streams = std::make_shared<association>(c);
    if (!c->streams->start(ec)) c->streams->end(ec, false);
  }
  if (c->streams->ended) {
    ec = c->streams->end_reason;
    return nullptr;
  }
  return c->streams;
}
}  // namespace

void connection::async_open_stream_(std::shared_ptr<connection_state> c, const stream_options& options,
                                    completion_handler<stream> h) {
  error_code ec = options.valid() ? error_code{} : make_error_code(errc::bad_stream_options);
  auto a = ec ? nullptr : association_of(c, ec);
  if (!a && c) return complete(c->session->ex, std::move(h), ec, stream{});
  if (!a) return complete_now(std::move(h), ec, stream{});
  if (!a->up) return a->openers.push_back({options, std::move(h)});
  a->open_one(options, std::move(h));
}

void connection::async_accept_stream_(std::shared_ptr<connection_state> c, completion_handler<stream> h) {
  error_code ec;
  auto a = association_of(c, ec);
  if (!a && c) return complete(c->session->ex, std::move(h), ec, stream{});
  if (!a) return complete_now(std::move(h), ec, stream{});
  if (!a->backlog.empty()) {
    auto s = std::move(a->backlog.front());
    a->backlog.pop_front();
    return a->hand_over(std::move(s), std::move(h));
  }
  a->acceptors.push_back(std::move(h));
}

}  // namespace punch
