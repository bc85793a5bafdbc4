// punch-peer's stdin reader: lines split right, long lines skipped, pipes and files both read.
#include "line_reader.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using namespace punch::peer_app;
namespace asio = boost::asio;

namespace {

std::vector<std::string> split(std::size_t max, std::vector<std::string> chunks, bool finish,
                               std::vector<std::size_t>* skipped = nullptr) {
  line_splitter splitter{max};
  line_splitter::output out;
  for (const auto& c : chunks) splitter.feed(c, out);
  if (finish) splitter.finish(out);
  if (skipped) *skipped = out.skipped;
  return out.lines;
}

using lines = std::vector<std::string>;

// Reads every line from `fd` through a line_reader, as the app does, within 5 s.
std::vector<std::string> read_all(int fd, std::vector<std::string>* warnings = nullptr) {
  asio::io_context ctx;
  std::vector<std::string> got;
  line_reader reader{ctx.get_executor(), fd, 8, [&](const std::string& w) {
                       if (warnings) warnings->push_back(w);
                     }};
  auto done = asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        while (auto line = co_await reader.next()) got.push_back(*line);
      },
      asio::use_future);
  ctx.run_for(std::chrono::seconds{5});
  BOOST_TEST_REQUIRE((done.wait_for(std::chrono::seconds{0}) == std::future_status::ready));
  done.get();
  return got;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(peer_line_reader)

BOOST_AUTO_TEST_CASE(lines_are_split_at_newlines_across_chunks) {
  BOOST_TEST(split(100, {"a\nb", "c\n", "\nd\n"}, false) == (lines{"a", "bc", "", "d"}));
}

BOOST_AUTO_TEST_CASE(a_last_line_without_newline_counts_only_at_the_end) {
  BOOST_TEST(split(100, {"a\nb"}, false) == (lines{"a"}));
  BOOST_TEST(split(100, {"a\nb"}, true) == (lines{"a", "b"}));
  BOOST_TEST(split(100, {"a\n"}, true) == (lines{"a"}));
}

BOOST_AUTO_TEST_CASE(a_line_longer_than_the_limit_is_skipped_whole_and_reported_by_number) {
  std::vector<std::size_t> skipped;
  auto got = split(4, {"1234\n12", "345\nok\n", "toolong"}, true, &skipped);
  BOOST_TEST(got == (lines{"1234", "ok"}));
  BOOST_TEST(skipped == (std::vector<std::size_t>{2, 4}));
}

BOOST_AUTO_TEST_CASE(a_pipe_is_read_to_its_end_with_long_lines_reported) {
  int fds[2];
  BOOST_TEST_REQUIRE(::pipe(fds) == 0);
  std::string input = "one\ntwo\nmuch too long\nlast";
  BOOST_TEST_REQUIRE(::write(fds[1], input.data(), input.size()) == static_cast<ssize_t>(input.size()));
  ::close(fds[1]);
  std::vector<std::string> warnings;
  auto got = read_all(fds[0], &warnings);
  ::close(fds[0]);
  BOOST_TEST(got == (lines{"one", "two", "last"}));
  BOOST_TEST_REQUIRE(warnings.size() == 1u);
  BOOST_TEST(warnings[0].find("line 3") != std::string::npos, warnings[0]);
}

BOOST_AUTO_TEST_CASE(a_regular_file_is_read_although_it_cannot_be_polled) {
  std::FILE* file = std::tmpfile();
  BOOST_TEST_REQUIRE(file != nullptr);
  std::fputs("first\nsecond\n", file);
  std::fflush(file);
  std::rewind(file);
  auto got = read_all(::fileno(file));
  std::fclose(file);
  BOOST_TEST(got == (lines{"first", "second"}));
}

BOOST_AUTO_TEST_CASE(lines_are_taken_from_the_pipe_before_anyone_asks_for_them) {
  int fds[2];
  BOOST_TEST_REQUIRE(::pipe(fds) == 0);
  asio::io_context ctx;
  line_reader reader{ctx.get_executor(), fds[0], 100, [](const std::string&) {}};
  std::string early = "early\n";
  BOOST_TEST_REQUIRE(::write(fds[1], early.data(), early.size()) == 6);
  // Nobody calls next() yet: the reader must still drain the pipe into its queue.
  int unread = 1;
  for (int i = 0; i < 100 && unread > 0; ++i) {
    ctx.run_one_for(std::chrono::milliseconds{50});
    BOOST_TEST_REQUIRE(::ioctl(fds[0], FIONREAD, &unread) == 0);
  }
  BOOST_TEST(unread == 0);
  ::close(fds[1]);
  std::vector<std::string> got;
  asio::co_spawn(ctx, [&]() -> asio::awaitable<void> {
    while (auto line = co_await reader.next()) got.push_back(*line);
  }, asio::detached);
  ctx.run_for(std::chrono::seconds{5});
  ::close(fds[0]);
  BOOST_TEST(got == (lines{"early"}));
}

BOOST_AUTO_TEST_CASE(stop_ends_the_input_and_lets_the_io_context_finish) {
  int fds[2];
  BOOST_TEST_REQUIRE(::pipe(fds) == 0);
  asio::io_context ctx;
  bool ended = false;
  {
    line_reader reader{ctx.get_executor(), fds[0], 100, [](const std::string&) {}};
    asio::co_spawn(ctx, [&]() -> asio::awaitable<void> {
      auto line = co_await reader.next();
      ended = !line.has_value();
    }, asio::detached);
    ctx.poll();
    reader.stop();
    ctx.run_for(std::chrono::seconds{5});
  }
  // run() returned by itself: nothing was left waiting on the pipe, which is still open.
  BOOST_TEST(ctx.stopped());
  BOOST_TEST(ended);
  ::close(fds[0]);
  ::close(fds[1]);
}

BOOST_AUTO_TEST_SUITE_END()
