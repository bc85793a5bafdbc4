// A real coturn (turnserver) for the TURN tests: started on a free UDP port of 127.0.0.1 with
// its relay ports in a range of its own, loopback peers allowed, no TLS/DTLS, no CLI, no
// config file; waited for until it answers a STUN Binding (bounded); killed at the end.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace punch::test {

class coturn {
public:
  // Why the TURN tests cannot run here (no turnserver on PATH), or nothing.
  static std::optional<std::string> unavailable() {
    if (!executable()) return std::string("turnserver (coturn) is not on PATH; ./setup.sh installs it");
    return std::nullopt;
  }

  // `auth`: the authentication flags (--lt-cred-mech --user U:P, or --use-auth-secret
  // --static-auth-secret S). Throws when it does not answer within 10 s.
  explicit coturn(std::vector<std::string> auth) {
    port_ = free_udp_port();
    // Relay ports apart for each test process, so that tests running at once do not collide.
    min_relay_ = static_cast<std::uint16_t>(50000 + (::getpid() % 150) * 100);
    std::vector<std::string> argv{*executable(), "-n", "--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1",
                                  "--listening-port", std::to_string(port_), "--min-port", std::to_string(min_relay_),
                                  "--max-port", std::to_string(max_relay()), "--allow-loopback-peers", "--no-tls",
                                  "--no-dtls", "--no-tcp", "--no-cli", "--realm", "punch.test", "--pidfile",
                                  "/tmp/punch-coturn-" + std::to_string(::getpid()) + ".pid", "--no-stdout-log"};
    argv.insert(argv.end(), auth.begin(), auth.end());
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    const int e = ::posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e != 0) throw std::runtime_error("posix_spawn turnserver failed");
    if (!answers_binding(std::chrono::seconds(10))) {
      stop();
      throw std::runtime_error("turnserver did not answer within 10 s");
    }
  }
  ~coturn() { stop(); }
  coturn(const coturn&) = delete;
  coturn& operator=(const coturn&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  std::uint16_t min_relay() const noexcept { return min_relay_; }
  std::uint16_t max_relay() const noexcept { return static_cast<std::uint16_t>(min_relay_ + 99); }

private:
  static std::optional<std::string> executable() {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "/usr/bin:/bin");
    for (std::string d; std::getline(dirs, d, ':');)
      if (auto f = std::filesystem::path(d) / "turnserver"; ::access(f.c_str(), X_OK) == 0) return f.string();
    return std::nullopt;
  }

  static std::uint16_t free_udp_port() {
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
  }

  // A Binding request (RFC 8489 §5, no attributes) every 100 ms until an answer comes.
  bool answers_binding(std::chrono::milliseconds patience) const {
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(port_);
    const unsigned char req[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    bool ok = false;
    for (auto spent = std::chrono::milliseconds(0); !ok && spent < patience; spent += std::chrono::milliseconds(100)) {
      ::sendto(fd, req, sizeof req, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
      pollfd p{fd, POLLIN, 0};
      ok = ::poll(&p, 1, 100) == 1;
    }
    ::close(fd);
    return ok;
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }

  pid_t pid_ = 0;
  std::uint16_t port_ = 0;
  std::uint16_t min_relay_ = 0;
};

}  // namespace punch::test
