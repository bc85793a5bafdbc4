// redis_link: hiredis's event hooks on asio (see link.hpp). The pattern is that of hiredis's
// own adapters (adapters/libuv.h, adapters/ae.h): the library says when it wants to read or
// write, the event loop calls redisAsyncHandleRead/Write when the socket is ready.
#include "redis/link.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/post.hpp>

#include <signal.h>

#include <array>
#include <ctime>
#include <vector>

namespace punch::detail {
namespace {

// What hiredis carries for one command (its privdata) until it calls back for the last time.
struct pending {
  redis_link* link;
  redis_link::reply_fn fn;
  bool subscription;
};

// hiredis writes with write(2), which raises SIGPIPE when Redis has gone: blocked on this
// thread for the write, and a SIGPIPE that the write raised taken back, so that a dead Redis
// does not kill the broker and the process's signal dispositions stay the application's.
void write_without_sigpipe(redisAsyncContext* ac) {
  sigset_t pipe_only, old, pending_before, pending_after;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  sigpending(&pending_before);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
  redisAsyncHandleWrite(ac);
  sigpending(&pending_after);
  if (sigismember(&pending_after, SIGPIPE) && !sigismember(&pending_before, SIGPIPE)) {
    const timespec none{};
    sigtimedwait(&pipe_only, nullptr, &none);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

redis_link& link_of(void* privdata) { return *static_cast<redis_link*>(privdata); }

void add_read(void* p) { link_of(p).want_read(true); }
void del_read(void* p) { link_of(p).want_read(false); }
void add_write(void* p) { link_of(p).want_write(true); }
void del_write(void* p) { link_of(p).want_write(false); }
void cleanup(void* p) { link_of(p).on_cleanup(); }

void connected(const redisAsyncContext* ac, int status) {
  link_of(ac->data).on_connect(status == REDIS_OK);
}

// hiredis calls this with each reply, and with null for each command still pending when the
// context is freed (an error, a timeout, close()).
void replied(redisAsyncContext*, void* r, void* privdata) {
  auto* p = static_cast<pending*>(privdata);
  const auto* reply = static_cast<const redisReply*>(r);
  p->link->on_reply(!p->subscription);
  p->fn(reply);
  if (!p->subscription || reply == nullptr) delete p;
}

}  // namespace

redis_link::redis_link(const asio::any_io_executor& ex, const redis_address& where, const std::string& ip,
                       std::chrono::milliseconds timeout, std::function<void()> on_connected,
                       std::function<void(std::string)> lost)
    : ex_(ex), deadline_(ex), timeout_(timeout), connected_(std::move(on_connected)), lost_(std::move(lost)) {
  // Non-blocking: connect(2) returns EINPROGRESS and the first write readiness completes it.
  ac_ = where.type == redis_address::kind::tcp ? redisAsyncConnect(ip.c_str(), where.port)
                                               : redisAsyncConnectUnix(where.path.c_str());
  if (ac_ == nullptr || ac_->err != 0) {
    std::string why = ac_ ? ac_->errstr : "out of memory";
    if (ac_) redisAsyncFree(ac_);
    ac_ = nullptr;
    fail(std::move(why));
    return;
  }
  ac_->data = this;
  ac_->ev.data = this;
  ac_->ev.addRead = add_read;
  ac_->ev.delRead = del_read;
  ac_->ev.addWrite = add_write;
  ac_->ev.delWrite = del_write;
  ac_->ev.cleanup = cleanup;
  error_code ec;
  fd_.emplace(ex_);
  fd_->assign(ac_->c.fd, ec);
  if (ec) {
    fail("cannot watch the Redis socket: " + ec.message());
    return;
  }
  last_progress_ = std::chrono::steady_clock::now();
  arm_deadline();
  // Asks for the first write readiness (addWrite), which tells that connect(2) finished.
  redisAsyncSetConnectCallback(ac_, connected);
}

redis_link::~redis_link() { close(); }

void redis_link::close() {
  closing_ = true;
  if (ac_) redisAsyncFree(ac_);  // calls every pending callback with null, then cleanup
  ac_ = nullptr;
}

void redis_link::fail(std::string why) {
  const bool report = !closing_;
  close();
  if (!report) return;
  asio::post(ex_, [life = std::weak_ptr<char>(life_), this, why = std::move(why)]() mutable {
    // A copy: the owner may destroy this link from inside it.
    if (!life.lock()) return;
    auto lost = lost_;
    lost(std::move(why));
  });
}

bool redis_link::send(std::span<const std::string_view> args, reply_fn fn) {
  return command(args, std::move(fn), true);
}

bool redis_link::subscribe(std::string_view channel, reply_fn fn) {
  const std::string_view args[] = {"SUBSCRIBE", channel};
  return command(args, std::move(fn), false);
}

bool redis_link::command(std::span<const std::string_view> args, reply_fn fn, bool counted) {
  if (ac_ == nullptr || closing_ || args.empty()) return false;
  // Most commands have a few arguments: no allocation for their pointers and lengths.
  constexpr std::size_t few = 12;
  std::array<const char*, few> argv_few;
  std::array<std::size_t, few> len_few;
  std::vector<const char*> argv_many;
  std::vector<std::size_t> len_many;
  const char** argv = argv_few.data();
  std::size_t* len = len_few.data();
  if (args.size() > few) {
    argv_many.resize(args.size());
    len_many.resize(args.size());
    argv = argv_many.data();
    len = len_many.data();
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    argv[i] = args[i].data();
    len[i] = args[i].size();
  }
  auto* p = new pending{this, std::move(fn), !counted};
  if (redisAsyncCommandArgv(ac_, replied, p, static_cast<int>(args.size()), argv, len) != REDIS_OK) {
    delete p;
    return false;
  }
  if (counted && in_flight_++ == 0) {
    last_progress_ = std::chrono::steady_clock::now();
    if (!deadline_armed_) arm_deadline();
  }
  return true;
}

void redis_link::want_read(bool on) {
  reading_ = on;
  if (on && !read_waiting_ && fd_) arm(false);
}

void redis_link::want_write(bool on) {
  writing_ = on;
  if (on && !write_waiting_ && fd_) arm(true);
}

// Waits for the socket's readiness while hiredis wants it. A readiness that comes after
// hiredis stopped wanting it (delWrite cannot cancel one direction alone) is ignored.
void redis_link::arm(bool write) {
  (write ? write_waiting_ : read_waiting_) = true;
  const auto what = write ? asio::posix::stream_descriptor::wait_write : asio::posix::stream_descriptor::wait_read;
  fd_->async_wait(what, [life = std::weak_ptr<char>(life_), this, write](error_code ec) {
    if (!life.lock()) return;
    bool& waiting = write ? write_waiting_ : read_waiting_;
    const bool& wanted = write ? writing_ : reading_;
    waiting = false;
    if (ec || ac_ == nullptr) return;
    // A write sends everything hiredis buffered since the last: the pipelined commands. Either
    // may free the context (cleanup clears ac_).
    if (wanted) write ? write_without_sigpipe(ac_) : redisAsyncHandleRead(ac_);
    if (ac_ != nullptr && wanted && !waiting) arm(write);
  });
}

// A connect or a command without progress for timeout_ ends the link: a Redis that stopped
// answering (SIGSTOP, a dead host behind a live route) counts as down.
void redis_link::arm_deadline() {
  deadline_armed_ = true;
  deadline_.expires_at(last_progress_ + timeout_);
  deadline_.async_wait([life = std::weak_ptr<char>(life_), this](error_code ec) {
    if (!life.lock()) return;
    deadline_armed_ = false;
    if (ec || ac_ == nullptr || (!connecting_ && in_flight_ == 0)) return;
    if (std::chrono::steady_clock::now() >= last_progress_ + timeout_) {
      fail("no answer from Redis within " + std::to_string(timeout_.count()) + " ms");
      return;
    }
    arm_deadline();
  });
}

void redis_link::on_connect(bool ok) {
  if (!ok) return;  // hiredis frees the context next: cleanup reports it
  connecting_ = false;
  last_progress_ = std::chrono::steady_clock::now();
  asio::post(ex_, [life = std::weak_ptr<char>(life_), this] {
    if (!life.lock() || ac_ == nullptr) return;
    auto connected = connected_;
    connected();
  });
}

void redis_link::on_reply(bool counted) {
  last_progress_ = std::chrono::steady_clock::now();
  if (counted && in_flight_ > 0) --in_flight_;
}

// hiredis frees the context: an error, the server closed it, or close(). The socket is
// hiredis's to close: release it from asio (which cancels the waits), never close it.
void redis_link::on_cleanup() {
  std::string why = ac_ && ac_->err != 0 ? std::string(ac_->errstr) : "Redis closed the connection";
  if (fd_) {
    fd_->release();
    fd_.reset();
  }
  ac_ = nullptr;
  in_flight_ = 0;
  deadline_.cancel();
  if (closing_) return;
  closing_ = true;
  asio::post(ex_, [life = std::weak_ptr<char>(life_), this, why = std::move(why)]() mutable {
    // A copy: the owner may destroy this link from inside it.
    if (!life.lock()) return;
    auto lost = lost_;
    lost(std::move(why));
  });
}

}  // namespace punch::detail
