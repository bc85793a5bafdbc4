// The child process of the real-ring server tests (see server_process.hpp).
#include "server_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <stdexcept>
#include <system_error>

namespace apps_test {
namespace {

using steady = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }

int remaining_ms(steady::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

}  // namespace

server_process::server_process(std::vector<std::string> argv) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) fail("pipe2");
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) fail("fork");
  if (pid_ == 0) {
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  out_ = pipe_fds[0];
  ::fcntl(out_, F_SETFL, O_NONBLOCK);
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd_ < 0) fail("pidfd_open");
}

server_process::~server_process() {
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (pidfd_ >= 0) ::close(pidfd_);
  if (out_ >= 0) ::close(out_);
}

bool server_process::read_output() {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(out_, buf, sizeof buf);
    if (n > 0) {
      output_.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    return n != 0;  // 0: end of file; -1: nothing more for now (EAGAIN)
  }
}

unsigned short server_process::wait_listening(std::chrono::milliseconds patience) {
  const auto deadline = steady::now() + patience;
  for (;;) {
    if (const auto eol = output_.find('\n'); eol != std::string::npos) {
      const std::string line = output_.substr(0, eol);
      const auto at = line.find("listening on ");
      const auto space = line.find(' ', at == std::string::npos ? 0 : at + 13);
      const auto colon = line.rfind(':', space);
      unsigned short port = 0;
      if (at == std::string::npos || colon == std::string::npos ||
          std::from_chars(line.data() + colon + 1, line.data() + space, port).ec != std::errc{} || port == 0)
        throw std::runtime_error("no port in the first line: " + line);
      return port;
    }
    pollfd p{out_, POLLIN, 0};
    const int left = remaining_ms(deadline);
    if (left == 0 || ::poll(&p, 1, left) == 0) throw std::runtime_error("no \"listening on\" line; output: " + output_);
    if (!read_output()) throw std::runtime_error("exited before listening; output: " + output_);
  }
}

void server_process::pause() {
  send_signal(SIGSTOP);
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WSTOPPED) != 0) fail("waitid");
}

void server_process::send_signal(int signal) {
  if (::kill(pid_, signal) != 0) fail("kill");
}

std::optional<int> server_process::wait_exit(std::chrono::milliseconds patience) {
  if (!reaped_) {
    pollfd p{pidfd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(patience.count())) == 0) return std::nullopt;
  }
  if (!reaped_ && ::waitpid(pid_, &status_, 0) != pid_) fail("waitpid");
  reaped_ = true;
  read_output();
  return status_;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

}  // namespace apps_test
