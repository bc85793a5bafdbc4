// One connection to Redis through hiredis's asynchronous API, driven by asio on one executor:
// hiredis's event hooks (addRead, delRead, addWrite, delWrite, cleanup) become async_waits on
// a stream_descriptor that watches the socket hiredis owns. Nothing here blocks: the connect
// is non-blocking and the caller resolves host names beforehand.
#pragma once

#include "punch/redis.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

struct redisAsyncContext;
struct redisReply;

namespace punch::detail {

class redis_link {
public:
  // A command's reply, or null when the link ended before it came: called exactly once. A
  // subscription's is called with each message and with null at the end.
  using reply_fn = std::function<void(const redisReply*)>;

  // Starts connecting to `where` (tcp: at `ip`, an address the caller resolved). `connected`
  // is posted when the connection is made; `lost(why)` is posted once when it fails, ends, or
  // a command or the connect has had no answer for `timeout`, unless close() ended it. Both
  // run on `ex`; neither after the link is destroyed.
  redis_link(const asio::any_io_executor& ex, const redis_address& where, const std::string& ip,
             std::chrono::milliseconds timeout, std::function<void()> connected,
             std::function<void(std::string)> lost);
  ~redis_link();
  redis_link(const redis_link&) = delete;
  redis_link& operator=(const redis_link&) = delete;

  // Appends a command (binary-safe arguments) to hiredis's output buffer, which goes out
  // with the others at the socket's next write readiness (pipelining). False when the link
  // is closed: `fn` is then not called.
  bool send(std::span<const std::string_view> args, reply_fn fn);
  // SUBSCRIBE `channel` with a callback that stays for the link's life.
  bool subscribe(std::string_view channel, reply_fn fn);
  // Ends the connection now: each pending reply_fn is called with null, here.
  void close();
  bool open() const noexcept { return ac_ != nullptr; }

  // Never called from a hiredis callback: these are public for hiredis's C hooks only.
  void want_read(bool on);
  void want_write(bool on);
  void on_cleanup();
  void on_connect(bool ok);
  void on_reply(bool counted);

private:
  void arm(bool write);
  void note_waiting();
  void arm_deadline();
  void fail(std::string why);
  bool command(std::span<const std::string_view> args, reply_fn fn, bool counted);

  asio::any_io_executor ex_;
  redisAsyncContext* ac_ = nullptr;
  std::optional<asio::posix::stream_descriptor> fd_;
  asio::steady_timer deadline_;
  std::chrono::milliseconds timeout_;
  std::function<void()> connected_;
  std::function<void(std::string)> lost_;
  // Handlers posted or pending on asio hold a weak reference: they do nothing once it expired.
  std::shared_ptr<char> life_ = std::make_shared<char>();
  bool reading_ = false, writing_ = false;
  bool read_waiting_ = false, write_waiting_ = false;
  bool connecting_ = true;
  bool closing_ = false;
  bool deadline_armed_ = false;
  std::size_t in_flight_ = 0;  // commands awaiting their reply (subscriptions are not)
  std::chrono::steady_clock::time_point last_progress_;
};

}  // namespace punch::detail
