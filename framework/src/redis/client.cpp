// redis_client: connecting, the handshake (AUTH, SELECT, SCRIPT LOAD, SUBSCRIBE), commands and
// their completions, and reconnection (see client.hpp).
#include "redis/client.hpp"

#include <hiredis/hiredis.h>

#include <boost/asio/append.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>

namespace punch::detail {

redis_client::redis_client(const asio::any_io_executor& ex, redis_address where, redis_client_options o)
    : ex_(ex),
      where_(std::move(where)),
      options_(o),
      retry_(ex),
      resolver_(ex),
      jitter_(std::random_device{}()),
      backoff_(o.reconnect_min) {}

redis_client::~redis_client() { stop(); }

redis_client::script_id redis_client::add_script(std::string text) {
  scripts_.push_back({std::move(text), {}});
  return scripts_.size() - 1;
}

void redis_client::subscribe(std::string channel, message_fn fn) {
  channels_.emplace_back(std::move(channel), std::move(fn));
}

void redis_client::on_state(std::function<void(cluster_state)> fn) { on_state_ = std::move(fn); }

void redis_client::start() {
  if (started_) return;
  started_ = true;
  connect();
}

void redis_client::stop() {
  if (stopped_) return;
  stopped_ = true;
  ++epoch_;
  retry_.cancel();
  resolver_.cancel();
  // Each pending command's callback runs here with no reply: operation_aborted, posted.
  commands_.reset();
  subscriber_.reset();
  for (auto& h : orphans_) asio::post(ex_, asio::append(std::move(h), error_code(asio::error::operation_aborted), redis_reply{}));
  orphans_.clear();
}

void redis_client::set_state(cluster_state s) {
  if (s == state_) return;
  state_ = s;
  if (on_state_) on_state_(s);
}

void redis_client::connect() {
  if (stopped_) return;
  const std::uint64_t epoch = ++epoch_;
  error_code ec;
  if (where_.type == redis_address::kind::unix_socket || (asio::ip::make_address(where_.host, ec), !ec)) {
    open_links(where_.host);
    return;
  }
  // hiredis would resolve a name with a blocking getaddrinfo: asio resolves it instead.
  resolver_.async_resolve(where_.host, std::to_string(where_.port),
                          [this, epoch, life = std::weak_ptr<char>(life_)](error_code ec,
                                                                          asio::ip::tcp::resolver::results_type rs) {
                            if (!life.lock() || epoch != epoch_) return;
                            if (ec || rs.empty()) return fail("cannot resolve " + where_.host + ": " + ec.message());
                            open_links(rs.begin()->endpoint().address().to_string());
                          });
}

void redis_client::open_links(const std::string& ip) {
  greeted_[0] = greeted_[1] = false;
  waiting_[0] = waiting_[1] = 0;
  auto lost = [this](std::string why) { fail(std::move(why)); };
  commands_ = std::make_unique<redis_link>(ex_, where_, ip, options_.timeout, [this] { handshake(false); }, lost);
  if (!channels_.empty())
    subscriber_ = std::make_unique<redis_link>(ex_, where_, ip, options_.timeout, [this] { handshake(true); }, lost);
}

// AUTH, SELECT and the scripts (or the subscriptions) go out together, before anything else;
// the client is up when every one of their replies has come back without an error.
void redis_client::handshake(bool subscriber) {
  redis_link& link = subscriber ? *subscriber_ : *commands_;
  const int which = subscriber ? 1 : 0;
  auto step = [this, which, epoch = epoch_](std::string what) {
    return [this, which, epoch, what = std::move(what)](const redisReply* r) {
      if (r == nullptr || epoch != epoch_) return;  // the link ended: its lost() says why
      if (r->type == REDIS_REPLY_ERROR) return post_fail(what + ": " + std::string(r->str, r->len));
      step_done(which);
    };
  };
  auto send = [&](std::initializer_list<std::string_view> args, redis_link::reply_fn fn) {
    if (link.send(std::span<const std::string_view>(args.begin(), args.size()), std::move(fn))) ++waiting_[which];
  };
  if (!where_.password.empty()) {
    if (where_.user.empty())
      send({"AUTH", where_.password}, step("Redis refused AUTH"));
    else
      send({"AUTH", where_.user, where_.password}, step("Redis refused AUTH"));
  }
  if (subscriber) {
    // Channels are not per database: no SELECT here. Each SUBSCRIBE's confirmation is a step.
    for (auto& [channel, fn] : channels_) {
      if (link.subscribe(channel, [this, epoch = epoch_](const redisReply* r) {
            if (r == nullptr || epoch != epoch_) return;
            on_message(r);
          }))
        ++waiting_[1];
    }
    greeted_[1] = true;
    if (waiting_[1] == 0) step_done(1);
    return;
  }
  const std::string db = std::to_string(where_.db);
  if (where_.db != 0) send({"SELECT", db}, step("Redis refused SELECT " + db));
  for (auto& s : scripts_) {
    send({"SCRIPT", "LOAD", s.text}, [&s, inner = step("Redis refused SCRIPT LOAD")](const redisReply* r) {
      if (r != nullptr && r->type == REDIS_REPLY_STRING) s.sha.assign(r->str, r->len);
      inner(r);
    });
  }
  // Up means Redis answered: a listening socket of a stopped server accepts connections too.
  send({"PING"}, step("Redis refused PING"));
  greeted_[0] = true;
}

// One more handshake reply on `link` (or none was needed): up once both links are through
// theirs. Posted, since a reply comes inside a hiredis callback and on_state may do anything.
void redis_client::step_done(int link) {
  if (waiting_[link] > 0) --waiting_[link];
  if (waiting_[link] != 0 || !greeted_[link]) return;
  asio::post(ex_, [this, epoch = epoch_, life = std::weak_ptr<char>(life_)] {
    if (life.lock() && epoch == epoch_) handshake_done();
  });
}

void redis_client::handshake_done() {
  const bool commands_ready = commands_ && commands_->open() && greeted_[0] && waiting_[0] == 0;
  const bool subscriber_ready =
      channels_.empty() || (subscriber_ && subscriber_->open() && greeted_[1] && waiting_[1] == 0);
  if (!commands_ready || !subscriber_ready || state_ == cluster_state::up) return;
  backoff_ = options_.reconnect_min;
  if (was_up_) ++stats_.reconnects;
  was_up_ = true;
  set_state(cluster_state::up);
}

// A pub/sub reply: ["subscribe", channel, n] (a handshake step) or ["message", channel, payload].
void redis_client::on_message(const redisReply* r) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) return;
  const auto text = [&](std::size_t i) {
    const redisReply* e = r->element[i];
    return e->str ? std::string_view(e->str, e->len) : std::string_view{};
  };
  if (text(0) == "subscribe") return step_done(1);
  if (text(0) != "message") return;
  const auto it = std::find_if(channels_.begin(), channels_.end(), [&](auto& c) { return c.first == text(1); });
  if (it == channels_.end()) return;
  asio::post(ex_, [fn = it->second, channel = std::string(text(1)), payload = std::string(text(2)),
                   life = std::weak_ptr<char>(life_)] {
    if (life.lock()) fn(channel, payload);
  });
}

// From inside a hiredis callback: the links must not be freed there, so fail() runs later.
void redis_client::post_fail(std::string why) {
  asio::post(ex_, [this, epoch = epoch_, why = std::move(why), life = std::weak_ptr<char>(life_)]() mutable {
    if (life.lock() && epoch == epoch_) fail(std::move(why));
  });
}

void redis_client::fail(std::string why) {
  if (stopped_) return;
  last_error_ = std::move(why);
  ++epoch_;
  // Pending commands complete with cluster_unavailable (posted) as the links close.
  commands_.reset();
  subscriber_.reset();
  set_state(cluster_state::down);
  for (auto& h : orphans_) asio::post(ex_, asio::append(std::move(h), error_code(errc::cluster_unavailable), redis_reply{}));
  orphans_.clear();
  // Jittered, so that brokers that lost Redis together do not all come back at once.
  std::uniform_real_distribution<double> spread(0.75, 1.25);
  const auto wait = std::chrono::milliseconds(static_cast<std::int64_t>(backoff_.count() * spread(jitter_)));
  backoff_ = std::min(backoff_ * 2, options_.reconnect_max);
  retry_.expires_after(wait);
  retry_.async_wait([this, life = std::weak_ptr<char>(life_)](error_code ec) {
    if (life.lock() && !ec) connect();
  });
}

bool redis_client::admit(handler& h) {
  error_code ec;
  if (stopped_) {
    ec = asio::error::operation_aborted;
  } else if (state_ != cluster_state::up || !commands_ || !commands_->open()) {
    ec = errc::cluster_unavailable;
    ++stats_.failed;
  } else if (in_flight_ >= options_.max_in_flight) {
    ec = errc::cluster_overloaded;
    ++stats_.dropped;
  } else {
    return true;
  }
  asio::post(ex_, asio::append(std::move(h), ec, redis_reply{}));
  return false;
}

void redis_client::complete(handler h, error_code ec, redis_reply r) {
  --in_flight_;
  asio::post(ex_, asio::append(std::move(h), ec, std::move(r)));
}

void redis_client::command(std::span<const std::string_view> args, handler h) {
  if (!admit(h)) return;
  send(args, std::make_shared<handler>(std::move(h)), {});
}

void redis_client::eval(script_id s, std::span<const std::string_view> keys, std::span<const std::string_view> args,
                        handler h) {
  if (!admit(h)) return;
  const std::string numkeys = std::to_string(keys.size());
  // EVAL's arguments, kept for a NOSCRIPT answer (a SCRIPT FLUSH, a failover to a replica).
  std::vector<std::string> again{"EVAL", scripts_[s].text, numkeys};
  for (auto k : keys) again.emplace_back(k);
  for (auto a : args) again.emplace_back(a);
  std::vector<std::string_view> line(again.begin(), again.end());
  if (!scripts_[s].sha.empty()) {
    line[0] = "EVALSHA";
    line[1] = scripts_[s].sha;
  }
  send(line, std::make_shared<handler>(std::move(h)), scripts_[s].sha.empty() ? std::vector<std::string>{} : std::move(again));
}

void redis_client::send(std::span<const std::string_view> args, std::shared_ptr<handler> h,
                        std::vector<std::string> retry) {
  ++in_flight_;
  ++stats_.commands;
  auto on_reply = [this, h, retry = std::move(retry)](const redisReply* r) mutable {
    if (r == nullptr) {
      if (stopped_) return complete(std::move(*h), asio::error::operation_aborted, {});
      ++stats_.failed;
      --in_flight_;
      return orphans_.push_back(std::move(*h));
    }
    redis_reply reply = copy_reply(*r);
    if (!retry.empty() && reply.is_error("NOSCRIPT")) {
      std::vector<std::string_view> line(retry.begin(), retry.end());
      --in_flight_;
      return send(line, std::move(h), {});
    }
    complete(std::move(*h), {}, std::move(reply));
  };
  if (!commands_->send(args, std::move(on_reply))) {
    // The link refused it (closing): the callback was not kept, so complete here.
    ++stats_.failed;
    complete(std::move(*h), errc::cluster_unavailable, {});
  }
}

}  // namespace punch::detail
