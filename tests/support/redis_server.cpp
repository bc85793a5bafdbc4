// test::redis_server (see redis_server.hpp).
#include "redis_server.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace test {
namespace {

using steady = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }

std::optional<std::string> find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/bin:/bin";
  std::size_t at = 0;
  while (at <= p.size()) {
    const auto colon = p.find(':', at);
    const std::string dir = p.substr(at, colon == std::string::npos ? std::string::npos : colon - at);
    const std::string file = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(file.c_str(), X_OK) == 0) return file;
    if (colon == std::string::npos) break;
    at = colon + 1;
  }
  return std::nullopt;
}

// A port that was free a moment ago (the kernel's pick for port 0).
std::uint16_t free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) fail("socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(s);
    fail("bind");
  }
  ::close(s);
  return ntohs(a.sin_port);
}

int remaining_ms(steady::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

std::string encode(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

// One RESP reply from `in` at `at`: the text (see command()), or nothing if incomplete.
std::optional<std::string> parse(const std::string& in, std::size_t& at) {
  const auto eol = in.find("\r\n", at);
  if (eol == std::string::npos) return std::nullopt;
  const char type = in[at];
  const std::string line = in.substr(at + 1, eol - at - 1);
  std::size_t next = eol + 2;
  if (type == '+' || type == '-' || type == ':') {
    at = next;
    return line;
  }
  const long n = std::stol(line);
  if (type == '$') {
    if (n < 0) {
      at = next;
      return std::string("(nil)");
    }
    if (in.size() < next + static_cast<std::size_t>(n) + 2) return std::nullopt;
    at = next + static_cast<std::size_t>(n) + 2;
    return in.substr(next, static_cast<std::size_t>(n));
  }
  std::string all;
  for (long i = 0; i < n; ++i) {
    auto e = parse(in, next);
    if (!e) return std::nullopt;
    all += (i ? "\n" : "") + *e;
  }
  at = next;
  return n < 0 ? std::string("(nil)") : all;
}

// Receives until `in` holds a whole reply at `at`, which it returns, moving `at` past it.
std::string read_reply(int s, std::string& in, std::size_t& at, steady::time_point deadline) {
  for (;;) {
    if (auto r = parse(in, at)) return *r;
    pollfd p{s, POLLIN, 0};
    char buf[65536];
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) throw std::runtime_error("no answer from redis-server");
    const auto n = ::recv(s, buf, sizeof buf, 0);
    if (n <= 0) throw std::runtime_error("redis-server closed the connection");
    in.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace

std::optional<std::string> redis_server::unavailable() {
  if (!find_on_path("redis-server")) return std::string("redis-server is not installed (Debian: redis-server)");
  return std::nullopt;
}

redis_server::redis_server(std::string password) : password_(std::move(password)) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "punch-redis-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) fail("mkdtemp");
  dir_ = tmpl;
  socket_ = dir_ + "/redis.sock";
  start();
}

redis_server::~redis_server() {
  kill();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string redis_server::tcp_url(unsigned db) const {
  return "redis://" + (password_.empty() ? "" : ":" + password_ + "@") + "127.0.0.1:" + std::to_string(port_) +
         (db ? "/" + std::to_string(db) : "");
}

std::string redis_server::unix_url(unsigned db) const {
  return "redis+unix://" + (password_.empty() ? "" : ":" + password_ + "@") + socket_ +
         (db ? "?db=" + std::to_string(db) : "");
}

void redis_server::start() {
  if (pid_ > 0) return;
  const auto exe = find_on_path("redis-server");
  if (!exe) throw std::runtime_error(*unavailable());
  // Another process may take a port between free_port() and the bind: try a few.
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (port_ == 0 || attempt > 0) port_ = free_port();
    std::vector<std::string> argv{*exe,         "--port",       std::to_string(port_), "--bind", "127.0.0.1",
                                  "--save",     "",             "--appendonly",        "no",     "--unixsocket",
                                  socket_,      "--unixsocketperm", "700",             "--dir",  dir_,
                                  "--daemonize", "no",          "--logfile",           dir_ + "/redis.log"};
    if (!password_.empty()) {
      argv.push_back("--requirepass");
      argv.push_back(password_);
    }
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    pid_t pid = -1;
    if (const int e = ::posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ); e != 0) {
      errno = e;
      fail("posix_spawn " + *exe);
    }
    pid_ = pid;
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd_ < 0) fail("pidfd_open");
    try {
      wait_ready(std::chrono::seconds(10));
      return;
    } catch (const std::exception&) {
      kill();
      if (attempt == 4) throw;
    }
  }
}

// Polls the socket with PING until it answers PONG; between tries, waits on the process's
// exit for 10 ms (a crash ends the wait at once); at most `patience` in all.
void redis_server::wait_ready(std::chrono::milliseconds patience) {
  const auto deadline = steady::now() + patience;
  for (;;) {
    try {
      if (command({"PING"}, std::chrono::milliseconds(500)) == "PONG") return;
    } catch (const std::exception&) {
    }
    pollfd p{pidfd_, POLLIN, 0};
    if (::poll(&p, 1, std::min(10, remaining_ms(deadline))) > 0)
      throw std::runtime_error("redis-server exited at start; see " + dir_ + "/redis.log");
    if (remaining_ms(deadline) == 0) throw std::runtime_error("redis-server did not answer PING in time");
  }
}

void redis_server::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGCONT);
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  ::close(pidfd_);
  pid_ = -1;
  pidfd_ = -1;
  ::unlink(socket_.c_str());
}

void redis_server::pause() {
  if (::kill(pid_, SIGSTOP) != 0) fail("kill SIGSTOP");
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WSTOPPED) != 0) fail("waitid");
}

void redis_server::resume() {
  if (::kill(pid_, SIGCONT) != 0) fail("kill SIGCONT");
}

std::string redis_server::command(const std::vector<std::string>& args, std::chrono::milliseconds patience) const {
  const auto deadline = steady::now() + patience;
  const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) fail("socket");
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } close_it{s};
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, socket_.c_str(), sizeof a.sun_path - 1);
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) fail("connect " + socket_);
  std::string out = password_.empty() ? "" : encode({"AUTH", password_});
  out += encode(args);
  if (::send(s, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) fail("send");
  std::string in;
  std::size_t at = 0;
  // The AUTH reply first, if any, then the command's.
  if (!password_.empty()) read_reply(s, in, at, deadline);
  return read_reply(s, in, at, deadline);
}

std::uint64_t redis_server::calls(const std::string& cmd) const {
  const std::string info = command({"INFO", "commandstats"});
  const std::string tag = "cmdstat_" + cmd + ":calls=";
  const auto at = info.find(tag);
  if (at == std::string::npos) return 0;
  return std::stoull(info.substr(at + tag.size()));
}

}  // namespace test
