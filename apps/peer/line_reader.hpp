// Lines from a file descriptor (stdin), read from start-up on so that lines typed before the
// connection is up are kept until the app asks for them.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace punch::peer_app {

// Splits a byte stream into lines without their '\n'. A line longer than `max_line` bytes is
// dropped whole (reported by its 1-based number), never split: one line is one datagram.
class line_splitter {
public:
  explicit line_splitter(std::size_t max_line) : max_line_(max_line) {}

  struct output {
    std::vector<std::string> lines;
    std::vector<std::size_t> skipped;  // numbers of the lines that were too long
  };

  void feed(std::string_view bytes, output& out);
  // End of input: a last line without '\n' is still a line.
  void finish(output& out);

private:
  void end_line(output& out);

  std::size_t max_line_;
  std::string partial_;
  bool too_long_ = false;
  std::size_t line_number_ = 0;
};

class line_reader {
public:
  // Called for each skipped line with a one-line message that names it.
  using warning_handler = std::function<void(const std::string&)>;

  // Starts reading `fd` at once: asynchronously when the descriptor can be polled (pipe,
  // terminal, socket); a regular file or /dev/null cannot (epoll says EPERM) but never
  // blocks either, so it is then read synchronously, on demand.
  line_reader(boost::asio::any_io_executor ex, int fd, std::size_t max_line, warning_handler warn);
  ~line_reader();
  line_reader(const line_reader&) = delete;
  line_reader& operator=(const line_reader&) = delete;

  // The next line, or nullopt at the end of input (or after stop()).
  boost::asio::awaitable<std::optional<std::string>> next();

  // Ends the input early: lines not yet handed out are dropped.
  void stop();

  // Shared with the read coroutine, which may outlive the reader by one wake-up.
  struct state;

private:
  std::shared_ptr<state> state_;
};

}  // namespace punch::peer_app
