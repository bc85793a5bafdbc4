// punch-peer --stream: stdin and stdout as the two directions of one stream, binary-safe.
#include "stream_pipe.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <unistd.h>

#include <cerrno>
#include <optional>
#include <vector>

namespace punch::peer_app {
namespace {

using asio::use_awaitable;
using namespace asio::experimental::awaitable_operators;

// A descriptor read or written asynchronously when it can be polled (pipe, terminal,
// socket); a regular file or /dev/null cannot (epoll says EPERM) but never blocks, so it
// is then used synchronously.
class descriptor {
public:
  descriptor(const asio::any_io_executor& ex, int fd) : fd_(fd) {
    asio::posix::stream_descriptor d(ex, ::dup(fd));
    error_code ec;
    d.non_blocking(true, ec);
    if (!ec) async_.emplace(std::move(d));
  }
  // 0 at the end of input.
  asio::awaitable<std::size_t> read_some(asio::mutable_buffer b) {
    if (async_) {
      auto [ec, n] = co_await async_->async_read_some(b, asio::as_tuple(use_awaitable));
      if (ec == asio::error::eof) co_return 0;
      if (ec) throw system_error(ec, "reading stdin");
      co_return n;
    }
    for (;;) {
      const auto n = ::read(fd_, b.data(), b.size());
      if (n >= 0) co_return static_cast<std::size_t>(n);
      if (errno != EINTR) throw system_error(error_code(errno, boost::system::system_category()), "reading stdin");
    }
  }
  asio::awaitable<void> write(asio::const_buffer b) {
    if (async_) {
      co_await asio::async_write(*async_, b, use_awaitable);
      co_return;
    }
    auto* p = static_cast<const char*>(b.data());
    std::size_t left = b.size();
    while (left > 0) {
      const auto n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw system_error(error_code(errno, boost::system::system_category()), "writing stdout");
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }

private:
  int fd_;
  std::optional<asio::posix::stream_descriptor> async_;
};

asio::awaitable<void> send_input(stream s, std::uint64_t& sent) {
  descriptor in(co_await asio::this_coro::executor, STDIN_FILENO);
  std::vector<char> chunk(64 * 1024);
  while (const std::size_t n = co_await in.read_some(asio::buffer(chunk))) {
    co_await asio::async_write(s, asio::buffer(chunk.data(), n), use_awaitable);
    sent += n;
  }
  // Completes once the peer acknowledged every byte.
  co_await s.close();
}

asio::awaitable<void> print_output(stream s, std::uint64_t& received) {
  descriptor out(co_await asio::this_coro::executor, STDOUT_FILENO);
  std::vector<char> chunk(64 * 1024);
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(chunk), asio::as_tuple(use_awaitable));
    if (n > 0) co_await out.write(asio::buffer(chunk.data(), n));
    received += n;
    if (ec == asio::error::eof) co_return;
    if (ec) throw system_error(ec, "reading the stream from the peer");
  }
}

}  // namespace

asio::awaitable<stream_totals> pipe_stream(connection c, bool opener) {
  // Not a conditional of two co_awaits: GCC 12 destroys such a temporary twice.
  stream s;
  if (opener)
    s = co_await c.open_stream();
  else
    s = co_await c.accept_stream();
  stream_totals t;
  co_await (send_input(s, t.sent) && print_output(s, t.received));
  co_return t;
}

}  // namespace punch::peer_app
