// Child processes for punch-bench: fork, pin, exec; readiness by Binding; memory from /proc.
#include "servers.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace punch::bench {

void pin_to_cpu(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ::sched_setaffinity(0, sizeof set, &set);
}

server_process::server_process(std::string name, std::vector<std::string> argv, int cpu)
    : name_(std::move(name)) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("cannot fork for " + name_);
  if (pid_ == 0) {
    pin_to_cpu(cpu);
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
}

server_process::~server_process() { stop(); }

bool server_process::alive() {
  if (pid_ <= 0) return false;
  int status = 0;
  return ::waitpid(pid_, &status, WNOHANG) == 0;
}

int server_process::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = -1;
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

void server_process::wait_ready(asio::io_context& ctx, const udp_endpoint& at,
                                std::chrono::milliseconds patience, const request_fields& probe) {
  asio::ip::udp::socket s(ctx, udp_endpoint(at.protocol(), 0));
  s.non_blocking(true);
  std::array<std::byte, stun::max_message_size> out{}, in{};
  const stun::transaction_id id{std::byte{1}, std::byte{2}, std::byte{3}};
  const auto request = build_request(out, probe, id);
  const auto deadline = std::chrono::steady_clock::now() + patience;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!alive()) throw std::runtime_error(name_ + " exited at start-up");
    error_code ec;
    s.send_to(asio::buffer(request.data(), request.size()), at, 0, ec);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    udp_endpoint from;
    if (s.receive_from(asio::buffer(in), from, 0, ec) >= stun::header_size && !ec) return;
  }
  std::ostringstream what;
  what << name_ << " does not answer on " << at;
  throw std::runtime_error(what.str());
}

namespace {

// True once something accepts a connection on the unix socket at `path`.
bool accepts(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) return false;
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return false;
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

redis_process::redis_process(const std::string& path, int cpu) {
  std::string pattern = (std::filesystem::temp_directory_path() / "punch-bench-redis-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("cannot make a directory for redis-server");
  dir_ = pattern;
  socket_ = dir_ + "/redis.sock";
  process_ = std::make_unique<server_process>(
      "redis-server", std::vector<std::string>{path, "--port", "0", "--unixsocket", socket_, "--save", "",
                                               "--appendonly", "no", "--dir", dir_},
      cpu);
  for (int i = 0; i < 500; ++i) {
    if (accepts(socket_)) return;
    if (!process_->alive()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  process_.reset();
  std::filesystem::remove_all(dir_);
  throw std::runtime_error("redis-server (" + path + ") does not accept on " + socket_);
}

redis_process::~redis_process() {
  process_.reset();  // stopped first: it may still write into the directory
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

memory_status memory_of(pid_t pid) {
  memory_status m;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") in >> m.rss_kib;
    else if (key == "VmHWM:") in >> m.hwm_kib;
    else in.ignore(1 << 12, '\n');
  }
  return m;
}

double cpu_seconds_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  // Fields after the command name (which may hold spaces, inside parentheses).
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::uint16_t free_udp_port() {
  asio::io_context ctx;
  asio::ip::udp::socket s(ctx, udp_endpoint(asio::ip::address_v4::loopback(), 0));
  return s.local_endpoint().port();
}

}  // namespace punch::bench
