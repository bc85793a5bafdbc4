// make_redis_cluster: punch::cluster on Redis. A registration is one string key (prefix + id)
// with the lifetime as its expiry; claim, extend and find are Lua scripts (one round trip,
// atomic); an introduction is PUBLISHed on the holder's channel (prefix + "broker:" + name).
#include "redis/client.hpp"
#include "redis/codec.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/post.hpp>

#include <stdexcept>
#include <unordered_map>

namespace punch {
namespace detail {
namespace {

// Refuses (0) when a live entry has another key; else stores the value with its expiry (1).
// The same key at another broker takes the entry over (the peer moved).
constexpr const char* claim_script = R"lua(
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 2, 33) ~= string.sub(ARGV[1], 2, 33) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
)lua";

// Extends only while the entry is still this broker's under the same key (its value starts
// with ARGV[1]: version, key, holder); 0 otherwise.
constexpr const char* extend_script = R"lua(
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
)lua";

// The value and the milliseconds it has left, or nil.
constexpr const char* find_script = R"lua(
local v = redis.call('GET', KEYS[1])
if not v then return false end
return {v, redis.call('PTTL', KEYS[1])}
)lua";

using clock_type = std::chrono::steady_clock;

// Lets the lazy extend look an id up by string_view: no allocation per absorbed refresh.
struct id_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

class redis_cluster final : public cluster {
public:
  redis_cluster(const asio::any_io_executor& ex, const redis_address& where, redis_cluster_options o)
      : ex_(ex),
        client_(ex, where,
                {.timeout = o.command_timeout, .reconnect_min = o.reconnect_min, .reconnect_max = o.reconnect_max,
                 .max_in_flight = o.max_in_flight}),
        name_(std::move(o.name)),
        prefix_(std::move(o.prefix)) {
    if (name_.empty() || name_.size() > max_holder_size)
      throw std::invalid_argument("redis cluster: a broker name of 1 to 255 bytes is required");
    claim_ = client_.add_script(claim_script);
    extend_ = client_.add_script(extend_script);
    find_ = client_.add_script(find_script);
    client_.subscribe(prefix_ + "broker:" + name_, [this](std::string_view, std::string_view payload) {
      auto in = decode_introduction(payload);
      if (!in) return;  // not ours, or damaged: dropped, as a lost one would be
      ++stats_.introductions_received;
      if (on_introduction_) on_introduction_(std::move(*in));
    });
    client_.on_state([this](cluster_state s) {
      // Back up: Redis may have lost what we wrote, so the next extend of each id goes through.
      if (s == cluster_state::up) last_write_.clear();
      if (on_state_) on_state_(s);
    });
  }

  ~redis_cluster() override { client_.stop(); }

  const std::string& name() const noexcept override { return name_; }

  void claim(const registration_record& r, std::chrono::milliseconds lifetime,
             asio::any_completion_handler<void(error_code)> done) override {
    ++stats_.claims;
    const std::string key = key_of(r.id());
    const std::string value = encode_entry(r, name_);
    const std::string ms = std::to_string(std::max<std::int64_t>(lifetime.count(), 1));
    const std::string_view keys[] = {key};
    const std::string_view args[] = {value, ms};
    client_.eval(claim_, keys, args,
                 [this, life = std::weak_ptr<char>(life_), id = std::string(r.id()), lifetime,
                  done = std::move(done)](error_code ec, redis_reply reply) mutable {
                   if (!life.lock()) return std::move(done)(asio::error::operation_aborted);
                   if (!ec) ec = reply.type == redis_reply::kind::integer ? error_code{} : errc::cluster_unavailable;
                   if (!ec && reply.integer == 0) {
                     ++stats_.claim_conflicts;
                     ec = errc::id_taken;
                   }
                   count_failure(ec);
                   if (!ec) remember_write(id, lifetime);
                   std::move(done)(ec);
                 });
  }

  void extend(const registration_record& r, std::chrono::milliseconds lifetime) override {
    const auto now = clock_type::now();
    if (auto it = last_write_.find(r.id()); it != last_write_.end() && now - it->second.at < lifetime / 3) {
      ++stats_.extends_skipped;
      return;
    }
    const std::string id(r.id());
    ++stats_.extends;
    remember_write(id, lifetime);
    const std::string key = key_of(id);
    const std::string owner = entry_owner_prefix(r, name_);
    const std::string ms = std::to_string(std::max<std::int64_t>(lifetime.count(), 1));
    const std::string_view keys[] = {key};
    const std::string_view args[] = {owner, ms};
    client_.eval(extend_, keys, args, [this, life = std::weak_ptr<char>(life_), id](error_code ec, redis_reply reply) {
      if (!life.lock()) return;
      count_failure(ec);
      // Not extended (lost, moved, or not written): the next extend tries again.
      if (ec || reply.type != redis_reply::kind::integer || reply.integer == 0) last_write_.erase(id);
    });
  }

  void find(std::string_view id, asio::any_completion_handler<void(error_code, cluster_entry)> done) override {
    ++stats_.finds;
    cluster_entry entry;
    if (!entry.record.set_id(id)) {
      ++stats_.find_misses;
      return asio::post(ex_, asio::append(std::move(done), error_code(errc::peer_not_found), std::move(entry)));
    }
    const std::string key = key_of(id);
    const std::string_view keys[] = {key};
    client_.eval(find_, keys, {},
                 [this, life = std::weak_ptr<char>(life_), entry = std::move(entry),
                  done = std::move(done)](error_code ec, redis_reply reply) mutable {
                   if (!life.lock()) return std::move(done)(asio::error::operation_aborted, std::move(entry));
                   if (!ec && !read_found(reply, entry)) {
                     ++stats_.find_misses;
                     ec = errc::peer_not_found;
                   }
                   count_failure(ec);
                   std::move(done)(ec, std::move(entry));
                 });
  }

  void forward(std::string_view holder, cluster_introduction in) override {
    const std::string channel = prefix_ + "broker:" + std::string(holder);
    const std::string payload = encode_introduction(in);
    ++stats_.introductions_sent;
    client_.command({"PUBLISH", channel, payload}, [this, life = std::weak_ptr<char>(life_)](error_code ec, redis_reply) {
      if (life.lock()) count_failure(ec);
    });
  }

  void on_introduction(std::function<void(cluster_introduction)> handler) override {
    on_introduction_ = std::move(handler);
  }
  void on_state(std::function<void(cluster_state)> handler) override { on_state_ = std::move(handler); }

  void start() override { client_.start(); }
  void stop() override { client_.stop(); }

  cluster_stats stats() const override {
    cluster_stats s = stats_;
    s.state = client_.state();
    s.dropped = client_.stats().dropped;
    s.reconnects = client_.stats().reconnects;
    return s;
  }

private:
  struct write {
    clock_type::time_point at;
    std::chrono::milliseconds lifetime;
  };

  std::string key_of(std::string_view id) const { return prefix_ + std::string(id); }

  void count_failure(const error_code& ec) {
    if (ec == errc::cluster_unavailable) ++stats_.failed;
  }

  // A value that is not ours to read (another layout, a damaged one) is a miss, never a crash.
  static bool read_found(const redis_reply& reply, cluster_entry& entry) {
    if (reply.type != redis_reply::kind::array || reply.elements.size() != 2) return false;
    const auto& value = reply.elements[0];
    const auto& ttl = reply.elements[1];
    if (value.type != redis_reply::kind::string || ttl.type != redis_reply::kind::integer || ttl.integer < 0)
      return false;
    if (!decode_entry(value.text, entry)) return false;
    entry.record.expires = clock_type::now() + std::chrono::milliseconds(ttl.integer);
    return true;
  }

  // What this broker wrote last per id, for the lazy extend; entries past their lifetime are
  // swept when the map has doubled since the last sweep (amortised O(1) per write).
  void remember_write(const std::string& id, std::chrono::milliseconds lifetime) {
    const auto now = clock_type::now();
    last_write_.insert_or_assign(id, write{now, lifetime});
    if (last_write_.size() < next_sweep_) return;
    std::erase_if(last_write_, [&](const auto& e) { return now - e.second.at > e.second.lifetime; });
    next_sweep_ = std::max<std::size_t>(1024, 2 * last_write_.size());
  }

  asio::any_io_executor ex_;
  redis_client client_;
  std::string name_;
  std::string prefix_;
  redis_client::script_id claim_ = 0, extend_ = 0, find_ = 0;
  std::unordered_map<std::string, write, id_hash, std::equal_to<>> last_write_;
  std::size_t next_sweep_ = 1024;
  cluster_stats stats_;
  std::function<void(cluster_introduction)> on_introduction_;
  std::function<void(cluster_state)> on_state_;
  std::shared_ptr<char> life_ = std::make_shared<char>();
};

}  // namespace
}  // namespace detail

bool redis_supported() noexcept { return true; }

std::unique_ptr<cluster> make_redis_cluster(asio::any_io_executor ex, const redis_address& where,
                                            redis_cluster_options options) {
  return std::make_unique<detail::redis_cluster>(ex, where, std::move(options));
}

}  // namespace punch
