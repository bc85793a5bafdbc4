// A real redis-server for the tests of the Redis client and cluster: started on a free TCP
// port of 127.0.0.1 and on a unix socket in a fresh directory, with no persistence, waited for
// until it answers PING (bounded), stopped, killed, paused or restarted on demand, and always
// killed at the end. And a small blocking RESP client, for the tests' own look at the server
// (INFO commandstats, DEBUG, SCRIPT FLUSH), which the framework never uses.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace test {

class redis_server {
public:
  // Why these tests cannot run here (no redis-server on PATH), or nothing.
  static std::optional<std::string> unavailable();

  // Starts it (throws if it does not answer within 10 s). `password`: --requirepass.
  explicit redis_server(std::string password = {});
  ~redis_server();  // SIGKILL, reap, remove the directory
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  const std::string& socket_path() const noexcept { return socket_; }
  // redis://[:password@]127.0.0.1:PORT[/db] and redis+unix://[:password@]/dir/redis.sock[?db=N]
  std::string tcp_url(unsigned db = 0) const;
  std::string unix_url(unsigned db = 0) const;

  void kill();     // SIGKILL and reap: the data is gone
  void start();    // again, on the same port and socket, after kill()
  void pause();    // SIGSTOP: connections stay open, nothing answers
  void resume();   // SIGCONT
  bool running() const noexcept { return pid_ > 0; }

  // One command over the unix socket, blocking (tests only); the reply as text: a string or
  // status as is, an integer in decimal, an error as "ERR ...", nil as "(nil)", an array as
  // its elements one per line.
  std::string command(const std::vector<std::string>& args, std::chrono::milliseconds patience = std::chrono::seconds(5)) const;
  // The `calls` of `cmd` in INFO commandstats (e.g. "evalsha"), 0 when it has none.
  std::uint64_t calls(const std::string& cmd) const;

private:
  void wait_ready(std::chrono::milliseconds patience);

  std::string password_;
  std::string dir_;
  std::string socket_;
  std::uint16_t port_ = 0;
  int pid_ = -1;
  int pidfd_ = -1;
};

}  // namespace test
