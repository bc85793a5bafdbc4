// The servers punch-bench measures, as child processes pinned to one CPU: punch-broker,
// punch-echo and (optionally) coturn; and what /proc says about their memory.
#pragma once

#include "load.hpp"

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace punch::bench {

// A child process, stopped (SIGTERM, then SIGKILL) when the object goes.
class server_process {
public:
  // Starts `argv` (argv[0] is the path) pinned to `cpu` (-1: anywhere), output to /dev/null.
  // Throws std::runtime_error if it cannot start.
  server_process(std::string name, std::vector<std::string> argv, int cpu);
  ~server_process();
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  // Sends `probe` (a STUN Binding request unless told; punch-relay answers only ALLOCATE)
  // until it is answered (the echo answers with the request); throws std::runtime_error
  // naming the server if nothing comes back within `patience`.
  void wait_ready(asio::io_context& ctx, const udp_endpoint& at, std::chrono::milliseconds patience,
                  const request_fields& probe = {});
  // Still running?
  bool alive();
  // Stops it; returns its exit status as waitpid reports it (-1 if it could not be read).
  int stop();

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }

private:
  std::string name_;
  pid_t pid_ = -1;
};

// redis-server for brokers that share a registry: a unix socket in a fresh temporary
// directory (removed with it), no port, nothing saved (--save '' --appendonly no), pinned to
// `cpu` like the other servers. Throws std::runtime_error if it does not accept within 10 s.
class redis_process {
public:
  redis_process(const std::string& path, int cpu);
  ~redis_process();
  redis_process(const redis_process&) = delete;
  redis_process& operator=(const redis_process&) = delete;

  // What punch-broker --redis takes: redis+unix:///tmp/.../redis.sock
  std::string url() const { return "redis+unix://" + socket_; }
  pid_t pid() const { return process_->pid(); }
  bool alive() { return process_->alive(); }

private:
  std::string dir_, socket_;
  std::unique_ptr<server_process> process_;
};

struct memory_status {
  std::uint64_t rss_kib = 0;  // VmRSS
  std::uint64_t hwm_kib = 0;  // VmHWM: the peak RSS
};
// /proc/PID/status; zeros if it cannot be read.
memory_status memory_of(pid_t pid);

// CPU time (user + system, every thread) the process has used so far, from /proc/PID/stat.
double cpu_seconds_of(pid_t pid);

// A UDP port on 127.0.0.1 that was free a moment ago.
std::uint16_t free_udp_port();

// Pins the calling thread to `cpu` (no-op for -1 or when refused).
void pin_to_cpu(int cpu);

}  // namespace punch::bench
