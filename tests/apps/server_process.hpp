// A server app (punch-broker, punch-relay) as a child process for the real-ring tests: started
// with its stdout and stderr in a pipe, its port read from its "listening on" line, signalled,
// and waited for with a bound (a pidfd, so the wait is on the exit itself, not a sleep).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace apps_test {

class server_process {
public:
  // Runs `argv` (argv[0] is the executable's path). Throws if it cannot be started.
  explicit server_process(std::vector<std::string> argv);
  // Kills (SIGKILL) and reaps a process still running.
  ~server_process();
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  // The port of its first line, "... listening on 127.0.0.1:PORT ..."; throws if that line
  // does not come within `patience` or has no port.
  unsigned short wait_listening(std::chrono::milliseconds patience);
  // Stops it (SIGSTOP) and returns once it has stopped; SIGCONT resumes it.
  void pause();
  // Sends `signal` to it.
  void send_signal(int signal);
  // A descriptor that becomes readable (poll) when the process exits.
  int exit_descriptor() const noexcept { return pidfd_; }
  // Its exit status (as waitpid reports it) once it has exited within `patience`; nothing if
  // it is still running then.
  std::optional<int> wait_exit(std::chrono::milliseconds patience);
  // What it printed so far (for failure messages).
  const std::string& output() const noexcept { return output_; }

private:
  // Reads what the pipe holds now into output_; false at end of file.
  bool read_output();

  int pid_ = -1;
  int pidfd_ = -1;
  int out_ = -1;  // the read end of its stdout and stderr
  bool reaped_ = false;
  int status_ = 0;  // once reaped
  std::string output_;
};

// "exit code 0", "killed by signal 9", for messages.
std::string describe_status(int status);

}  // namespace apps_test
