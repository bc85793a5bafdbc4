// A Redis client on one executor: a connection for commands (pipelined) and one for pub/sub
// (a subscribed connection can do nothing else), AUTH and SELECT after each connect, Lua
// scripts by digest, reconnection with jittered exponential backoff, and a bound on what is
// in flight. Every handler is called exactly once, on the executor, never inside the call
// that started its operation.
#pragma once

#include "punch/cluster.hpp"
#include "punch/redis.hpp"

#include "redis/link.hpp"
#include "redis/reply.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace punch::detail {

struct redis_client_options {
  std::chrono::milliseconds timeout{1000};  // a connect or command without an answer: down
  std::chrono::milliseconds reconnect_min{100};
  std::chrono::milliseconds reconnect_max{5000};
  std::size_t max_in_flight = 65536;        // commands awaiting their reply
};

struct redis_client_stats {
  std::uint64_t commands = 0;    // sent to Redis
  std::uint64_t failed = 0;      // completed with errc::cluster_unavailable
  std::uint64_t dropped = 0;     // refused at once with errc::cluster_overloaded
  std::uint64_t reconnects = 0;  // up again after down
};

class redis_client {
public:
  using handler = asio::any_completion_handler<void(error_code, redis_reply)>;
  using message_fn = std::function<void(std::string_view channel, std::string_view payload)>;
  using script_id = std::size_t;

  redis_client(const asio::any_io_executor& ex, redis_address where, redis_client_options o = {});
  ~redis_client();  // stop()
  redis_client(const redis_client&) = delete;
  redis_client& operator=(const redis_client&) = delete;

  // Before start(): a Lua script, loaded (SCRIPT LOAD) on each connect and run by EVALSHA.
  script_id add_script(std::string text);
  // Before start(): messages on `channel`, on a second connection, subscribed again after
  // each reconnect. `fn` is called on the executor, never inside a hiredis callback.
  void subscribe(std::string channel, message_fn fn);
  // Called on each change of state() after start().
  void on_state(std::function<void(cluster_state)> fn);

  void start();
  // Closes both connections: what is in flight completes with operation_aborted.
  void stop();

  // A command with binary-safe arguments. Errors: errc::cluster_unavailable (not connected,
  // or the connection ended before the reply), errc::cluster_overloaded (max_in_flight
  // commands await their reply), operation_aborted (stop()). An error reply from Redis is
  // a redis_reply of kind error, not an error_code.
  void command(std::span<const std::string_view> args, handler h);
  void command(std::initializer_list<std::string_view> args, handler h) {
    command(std::span<const std::string_view>(args.begin(), args.size()), std::move(h));
  }
  // EVALSHA of script `s` with `keys` and `args`; EVAL when Redis lost it (NOSCRIPT).
  void eval(script_id s, std::span<const std::string_view> keys, std::span<const std::string_view> args,
            handler h);

  cluster_state state() const noexcept { return state_; }
  const redis_client_stats& stats() const noexcept { return stats_; }
  std::size_t in_flight() const noexcept { return in_flight_; }
  // Why the last connection failed or ended (for logs).
  const std::string& last_error() const noexcept { return last_error_; }

private:
  struct script {
    std::string text;
    std::string sha;
  };
  bool admit(handler& h);
  void send(std::span<const std::string_view> args, std::shared_ptr<handler> h, std::vector<std::string> retry);
  void complete(handler h, error_code ec, redis_reply r);
  void connect();
  void open_links(const std::string& ip);
  void handshake(bool subscriber);
  void step_done(int link);
  void handshake_done();
  void on_message(const redisReply* r);
  void post_fail(std::string why);
  void fail(std::string why);
  void set_state(cluster_state s);

  asio::any_io_executor ex_;
  redis_address where_;
  redis_client_options options_;
  std::unique_ptr<redis_link> commands_, subscriber_;
  std::vector<script> scripts_;
  std::vector<std::pair<std::string, message_fn>> channels_;
  std::function<void(cluster_state)> on_state_;
  asio::steady_timer retry_;
  asio::ip::tcp::resolver resolver_;
  std::minstd_rand jitter_;
  std::chrono::milliseconds backoff_;
  cluster_state state_ = cluster_state::connecting;
  bool started_ = false, stopped_ = false, was_up_ = false;
  // Per link (0: commands, 1: subscriber): handshake sent, and its replies still to come
  // (AUTH, SELECT, SCRIPT LOAD; AUTH and each SUBSCRIBE's confirmation).
  bool greeted_[2] = {false, false};
  std::size_t waiting_[2] = {0, 0};
  std::uint64_t epoch_ = 0;          // one per connection attempt: late callbacks of older ones are ignored
  std::size_t in_flight_ = 0;
  redis_client_stats stats_;
  std::string last_error_;
  // Commands whose connection ended: completed by fail() once the state is down, so that a
  // handler that sees cluster_unavailable also sees state() == down.
  std::vector<handler> orphans_;
  std::shared_ptr<char> life_ = std::make_shared<char>();
};

}  // namespace punch::detail
