// memory_cluster_hub (punch/cluster.hpp): brokers of one process sharing one directory of
// registrations, for tests, the simulated network, and brokers on several threads of one
// machine. It behaves as a store behind a network would, as far as a broker can tell: every
// completion is posted to the member's executor (never called inline), forward() reaches the
// holder later, and set_down() makes every operation fail with cluster_unavailable and, back
// up, loses every entry (a store that restarted without its data).
#include "punch/cluster.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <map>
#include <utility>

namespace punch {

namespace {

using time_point = punch::clock::time_point;

// One entry of the directory. Its expiry is in the clock of the member that wrote it; a reader
// gets it in its own clock (its now plus what the entry has left).
struct stored {
  registration_record record;
  std::string holder;
  time_point expires{};
  punch::clock* time = nullptr;

  punch::clock::duration left() const { return expires - time->now(); }
  bool live() const { return left() > punch::clock::duration::zero(); }
};

// What the hub knows of a member: enough to post to it after it is gone (then nothing runs).
struct member_link {
  asio::any_io_executor ex;
  std::function<void(cluster_introduction)> on_introduction;
  std::function<void(cluster_state)> on_state;
  cluster_state state = cluster_state::connecting;
  bool started = false;
  cluster_stats stats;
};

// The directory and the members: what memory_cluster_hub::impl holds.
struct hub_state {
  std::map<std::string, stored, std::less<>> directory;
  std::map<std::string, std::shared_ptr<member_link>, std::less<>> members;
  bool down = false;

  // Sets a started member's state and tells it (posted), if it changed.
  static void report(const std::shared_ptr<member_link>& m, cluster_state s) {
    if (!m->started || m->state == s) return;
    m->state = s;
    m->stats.state = s;
    asio::post(m->ex, [w = std::weak_ptr<member_link>(m), s] {
      auto link = w.lock();
      if (link && link->on_state) link->on_state(s);
    });
  }
};

// A member of a hub: a punch::cluster whose store is the hub's directory.
class memory_member final : public cluster {
public:
  memory_member(hub_state& hub, std::string name, asio::any_io_executor ex,
                punch::clock& time)
      : hub_(&hub), name_(std::move(name)), time_(time), link_(std::make_shared<member_link>()) {
    link_->ex = std::move(ex);
    hub_->members[name_] = link_;
  }
  ~memory_member() override {
    if (auto it = hub_->members.find(name_); it != hub_->members.end() && it->second == link_) hub_->members.erase(it);
  }

  const std::string& name() const noexcept override { return name_; }

  void claim(const registration_record& r, std::chrono::milliseconds lifetime,
             asio::any_completion_handler<void(error_code)> done) override {
    ++link_->stats.claims;
    if (!up()) return fail(std::move(done));
    error_code ec;
    auto it = hub_->directory.find(r.id());
    if (it != hub_->directory.end() && it->second.live() && it->second.record.key != r.key) {
      ++link_->stats.claim_conflicts;
      ec = errc::id_taken;
    } else {
      // A new entry, the same key's refresh, or a takeover by the same key from another broker.
      stored s{r, name_, time_.now() + lifetime, &time_};
      s.record.expires = s.expires;
      hub_->directory.insert_or_assign(std::string(r.id()), std::move(s));
    }
    complete(std::move(done), ec);
  }

  void extend(const registration_record& r, std::chrono::milliseconds lifetime) override {
    if (!up()) return;
    auto it = hub_->directory.find(r.id());
    if (it == hub_->directory.end() || it->second.holder != name_ || it->second.record.key != r.key) return;
    // Lazy, as a real store's client should be: only once a third of the lifetime has passed.
    if (it->second.live() && it->second.left() > lifetime - lifetime / 3) {
      ++link_->stats.extends_skipped;
      return;
    }
    ++link_->stats.extends;
    it->second.expires = time_.now() + lifetime;
    it->second.time = &time_;
  }

  void find(std::string_view id, asio::any_completion_handler<void(error_code, cluster_entry)> done) override {
    ++link_->stats.finds;
    if (!up()) {
      ++link_->stats.failed;
      return post(std::move(done), make_error_code(errc::cluster_unavailable), cluster_entry{});
    }
    auto it = hub_->directory.find(id);
    if (it == hub_->directory.end() || !it->second.live()) {
      ++link_->stats.find_misses;
      return post(std::move(done), make_error_code(errc::peer_not_found), cluster_entry{});
    }
    cluster_entry e{it->second.record, it->second.holder};
    e.record.expires = time_.now() + it->second.left();
    post(std::move(done), error_code{}, std::move(e));
  }

  void forward(std::string_view holder, cluster_introduction in) override {
    if (!up()) {
      ++link_->stats.failed;
      return;
    }
    auto it = hub_->members.find(holder);
    if (it == hub_->members.end()) return;  // that broker is gone: the Connect's timeout covers it
    ++link_->stats.introductions_sent;
    auto to = it->second;
    asio::post(to->ex, [w = std::weak_ptr<member_link>(to), in = std::move(in)]() mutable {
      auto link = w.lock();
      if (!link || !link->on_introduction) return;
      ++link->stats.introductions_received;
      link->on_introduction(std::move(in));
    });
  }

  void on_introduction(std::function<void(cluster_introduction)> handler) override {
    link_->on_introduction = std::move(handler);
  }
  void on_state(std::function<void(cluster_state)> handler) override { link_->on_state = std::move(handler); }

  void start() override {
    link_->started = true;
    hub_state::report(link_, hub_->down ? cluster_state::down : cluster_state::up);
  }
  void stop() override {
    link_->started = false;
    link_->state = link_->stats.state = cluster_state::connecting;
  }

  cluster_stats stats() const override { return link_->stats; }

private:
  bool up() const { return link_->started && !hub_->down; }

  void fail(asio::any_completion_handler<void(error_code)> done) {
    ++link_->stats.failed;
    complete(std::move(done), errc::cluster_unavailable);
  }
  void complete(asio::any_completion_handler<void(error_code)> done, error_code ec) {
    asio::post(link_->ex, [done = std::move(done), ec]() mutable { std::move(done)(ec); });
  }
  void post(asio::any_completion_handler<void(error_code, cluster_entry)> done, error_code ec, cluster_entry e) {
    asio::post(link_->ex, [done = std::move(done), ec, e = std::move(e)]() mutable { std::move(done)(ec, std::move(e)); });
  }

  hub_state* hub_;  // the hub outlives its members
  std::string name_;
  punch::clock& time_;
  std::shared_ptr<member_link> link_;
};

}  // namespace

struct memory_cluster_hub::impl : hub_state {};

memory_cluster_hub::memory_cluster_hub() : impl_(std::make_unique<impl>()) {}
memory_cluster_hub::~memory_cluster_hub() = default;

std::unique_ptr<cluster> memory_cluster_hub::join(std::string name, asio::any_io_executor ex, punch::clock* time) {
  return std::make_unique<memory_member>(*impl_, std::move(name), std::move(ex),
                                         time ? *time : steady_clock());
}

void memory_cluster_hub::set_down(bool down) {
  if (impl_->down == down) return;
  impl_->down = down;
  if (!down) impl_->directory.clear();
  for (auto& [name, m] : impl_->members) hub_state::report(m, down ? cluster_state::down : cluster_state::up);
}

}  // namespace punch
