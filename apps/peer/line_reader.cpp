// Lines from stdin: a coroutine reads a pollable descriptor into a channel from start-up on;
// a regular file is read synchronously when a line is asked for.
#include "line_reader.hpp"

#include "punch/error.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <deque>

namespace punch::peer_app {

namespace asio = boost::asio;

void line_splitter::end_line(output& out) {
  ++line_number_;
  if (too_long_)
    out.skipped.push_back(line_number_);
  else
    out.lines.push_back(std::move(partial_));
  partial_.clear();
  too_long_ = false;
}

void line_splitter::feed(std::string_view bytes, output& out) {
  while (!bytes.empty()) {
    auto newline = bytes.find('\n');
    auto piece = bytes.substr(0, newline);
    // Past the limit the rest of the line is not kept: memory stays bounded by max_line.
    if (!too_long_ && partial_.size() + piece.size() > max_line_) {
      too_long_ = true;
      partial_.clear();
    }
    if (!too_long_) partial_.append(piece);
    if (newline == std::string_view::npos) return;
    end_line(out);
    bytes.remove_prefix(newline + 1);
  }
}

void line_splitter::finish(output& out) {
  if (!partial_.empty() || too_long_) end_line(out);
}

struct line_reader::state {
  using channel = asio::experimental::channel<void(error_code, std::string)>;
  // Lines waiting for the connection; past this the reader stops reading and the pipe holds
  // the rest, so nothing is lost.
  static constexpr std::size_t queue_capacity = 256;

  state(asio::any_io_executor ex, std::size_t max, warning_handler w)
      : lines(ex, queue_capacity), splitter(max), max_line(max), warn(std::move(w)) {}

  void report(const line_splitter::output& out) {
    for (auto n : out.skipped)
      warn("stdin line " + std::to_string(n) + " is longer than " + std::to_string(max_line) +
           " bytes (one datagram); skipped");
  }

  std::optional<asio::posix::stream_descriptor> descriptor;
  int fd = -1;               // read synchronously when there is no descriptor
  int saved_flags = -1;      // the fd's status flags before asio made it non-blocking
  channel lines;
  line_splitter splitter;
  std::size_t max_line;
  std::deque<std::string> ready;  // synchronous mode: lines split but not handed out yet
  bool at_end = false;
  bool stopped = false;
  warning_handler warn;
};

namespace {

asio::awaitable<void> read_loop(std::shared_ptr<line_reader::state> s) {
  using asio::as_tuple;
  using asio::use_awaitable;
  std::array<char, 4096> chunk;
  for (;;) {
    auto [ec, n] = co_await s->descriptor->async_read_some(asio::buffer(chunk),
                                                           as_tuple(use_awaitable));
    if (s->stopped) co_return;
    line_splitter::output out;
    s->splitter.feed({chunk.data(), n}, out);
    if (ec) s->splitter.finish(out);
    s->report(out);
    for (auto& line : out.lines) {
      auto [send_ec] = co_await s->lines.async_send(error_code{}, std::move(line),
                                                    as_tuple(use_awaitable));
      if (send_ec) co_return;  // stop(): nobody wants more lines
    }
    if (ec) {
      if (ec != asio::error::eof) s->warn("reading stdin failed: " + ec.message());
      co_await s->lines.async_send(asio::error::eof, std::string{}, as_tuple(use_awaitable));
      co_return;
    }
  }
}

}  // namespace

line_reader::line_reader(asio::any_io_executor ex, int fd, std::size_t max_line,
                         warning_handler warn)
    : state_(std::make_shared<state>(ex, max_line, std::move(warn))) {
  state_->fd = fd;
  // A duplicate, so that closing the descriptor leaves fd 0 itself open.
  int copy = ::dup(fd);
  if (copy < 0) {
    // No stdin at all (started with 0<&-): no lines to send, as with /dev/null.
    state_->at_end = true;
    return;
  }
  state_->saved_flags = ::fcntl(copy, F_GETFL);
  error_code ec;
  state_->descriptor.emplace(ex);
  state_->descriptor->assign(copy, ec);
  if (ec) {
    // EPERM from epoll: a regular file or /dev/null, which is read synchronously instead.
    state_->descriptor.reset();
    ::close(copy);
    return;
  }
  asio::co_spawn(ex, read_loop(state_), asio::detached);
}

line_reader::~line_reader() { stop(); }

void line_reader::stop() {
  auto& s = *state_;
  if (s.stopped) return;
  s.stopped = true;
  if (s.descriptor) {
    // Give the shared file description back its blocking mode (a terminal the shell reuses).
    if (s.saved_flags >= 0) ::fcntl(s.descriptor->native_handle(), F_SETFL, s.saved_flags);
    error_code ignored;  // closing a dup of stdin cannot lose data: we only read from it
    s.descriptor->close(ignored);
  }
  s.lines.cancel();  // wakes a read loop blocked on a full queue
  s.lines.close();
}

asio::awaitable<std::optional<std::string>> line_reader::next() {
  auto s = state_;
  if (s->stopped) co_return std::nullopt;
  if (s->descriptor) {
    auto [ec, line] = co_await s->lines.async_receive(asio::as_tuple(asio::use_awaitable));
    if (!ec) co_return std::move(line);
    if (ec == asio::error::eof || s->stopped) co_return std::nullopt;
    // Cancelled by our caller (not the end of input): say so rather than pretend EOF.
    throw system_error{ec, "waiting for a line from stdin"};
  }
  // Synchronous mode: a regular file answers at once, so this never blocks for long.
  std::array<char, 4096> chunk;
  while (s->ready.empty() && !s->at_end) {
    auto n = ::read(s->fd, chunk.data(), chunk.size());
    line_splitter::output out;
    if (n > 0) {
      s->splitter.feed({chunk.data(), static_cast<std::size_t>(n)}, out);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      if (n < 0) s->warn(std::string{"reading stdin failed: "} + std::strerror(errno));
      s->splitter.finish(out);
      s->at_end = true;
    }
    s->report(out);
    for (auto& line : out.lines) s->ready.push_back(std::move(line));
  }
  if (s->ready.empty()) co_return std::nullopt;
  auto line = std::move(s->ready.front());
  s->ready.pop_front();
  co_return line;
}

}  // namespace punch::peer_app
