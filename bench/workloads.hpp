// What punch-bench sends: a steady stream of one request kind, the registrations a Lookup or
// Connect run needs first, and the bulk registration that fills a broker for the memory curve.
#pragma once

#include "load.hpp"

#include <array>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace punch::bench {

// A peer id in a small fixed buffer: "<tag>s<socket>" and friends, no allocation per request.
struct id_text {
  std::array<char, 48> text{};
  std::string_view view;
  template <typename... Args>
  explicit id_text(const char* format, Args... args) {
    const int n = std::snprintf(text.data(), text.size(), format, args...);
    view = std::string_view(text.data(), static_cast<std::size_t>(std::max(0, n)));
  }
};

// A request's fields, spelled out (designated initialisers that skip members warn on GCC 12).
inline request_fields fields(request_kind k, std::string_view id = {}, std::string_view target = {},
                             stun::endpoint host = {}, std::uint32_t lifetime = 600) {
  request_fields f;
  f.kind = k;
  f.id = id;
  f.target = target;
  f.host = host;
  f.lifetime = lifetime;
  return f;
}

inline stun::endpoint host_candidate(const udp_endpoint& local) {
  return {asio::ip::make_address_v4("192.168.77.1"), local.port()};
}

// The same kind of request from every socket, for as long as the run lasts. Socket i is
// registered as "<tag>s<i>" (register_sockets); Lookup asks for socket i+1, Connect introduces
// socket i to socket i+1 (whose load acknowledges the Introduce). Register refreshes one of 16
// ids per socket in turn.
class steady_workload final : public workload {
public:
  steady_workload(request_kind k, std::string tag, std::size_t sockets)
      : kind_(k), tag_(std::move(tag)), sockets_(sockets), turn_(sockets) {}

  std::span<const std::byte> next(std::size_t i, const udp_endpoint& local, std::span<std::byte> out,
                                  stun::transaction_id& id) override {
    const std::size_t peer = (i + 1) % sockets_;
    switch (kind_) {
      case request_kind::binding:
        return build_request(out, fields(kind_), id);
      case request_kind::register_peer: {
        const id_text me("%ss%zuk%zu", tag_.c_str(), i, turn_[i]++ % 16);
        return build_request(out, fields(kind_, me.view, {}, host_candidate(local)), id);
      }
      case request_kind::lookup: {
        const id_text target("%ss%zu", tag_.c_str(), peer);
        return build_request(out, fields(kind_, {}, target.view), id);
      }
      case request_kind::connect: {
        const id_text me("%ss%zu", tag_.c_str(), i), target("%ss%zu", tag_.c_str(), peer);
        return build_request(out, fields(kind_, me.view, target.view), id);
      }
    }
    return {};
  }

private:
  request_kind kind_;
  std::string tag_;
  std::size_t sockets_;
  std::vector<std::size_t> turn_;
};

// Registers socket i as "<tag>s<i>" once, retrying a lost request; done when all are.
class register_sockets final : public workload {
public:
  register_sockets(std::string tag, std::size_t sockets) : tag_(std::move(tag)), state_(sockets, 0) {}

  std::span<const std::byte> next(std::size_t i, const udp_endpoint& local, std::span<std::byte> out,
                                  stun::transaction_id& id) override {
    if (state_[i] != 0) return {};
    state_[i] = 1;
    const id_text me("%ss%zu", tag_.c_str(), i);
    return build_request(out, fields(request_kind::register_peer, me.view, {}, host_candidate(local)), id);
  }
  void answered(std::size_t i, const stun::transaction_id&, answer_class c) override {
    state_[i] = 2;
    if (c != answer_class::success) ++failed;
    ++done_;
  }
  void lost(std::size_t i, const stun::transaction_id&) override { state_[i] = 0; }
  bool finished() const override { return done_ == state_.size(); }
  std::size_t failed = 0;

private:
  std::string tag_;
  std::vector<int> state_;  // 0 to send, 1 in flight, 2 answered
  std::size_t done_ = 0;
};

// Registers "peer-<n>" for n in [first, last) from whichever socket is free, each with one
// host candidate, so that the broker ends up holding all of them. A lost request is retried
// from the same socket: from another one, an answer that was only late would make it 403.
class bulk_register final : public workload {
public:
  bulk_register(std::uint32_t first, std::uint32_t last) : next_(first), last_(last), todo_(last - first) {}

  std::span<const std::byte> next(std::size_t i, const udp_endpoint& local, std::span<std::byte> out,
                                  stun::transaction_id& id) override {
    if (retry_.size() <= i) retry_.resize(i + 1);
    std::uint32_t n;
    if (!retry_[i].empty()) {
      n = retry_[i].back();
      retry_[i].pop_back();
    } else if (next_ < last_) {
      n = next_++;
    } else {
      return {};
    }
    std::memcpy(id.data() + 8, &n, sizeof n);
    const id_text me("peer-%07u", n);
    return build_request(out, fields(request_kind::register_peer, me.view, {}, host_candidate(local), 3600), id);
  }
  void answered(std::size_t, const stun::transaction_id&, answer_class c) override {
    if (c != answer_class::success) ++failed;
    --todo_;
  }
  void lost(std::size_t i, const stun::transaction_id& id) override {
    std::uint32_t n;
    std::memcpy(&n, id.data() + 8, sizeof n);
    if (retry_.size() <= i) retry_.resize(i + 1);
    retry_[i].push_back(n);
  }
  bool finished() const override { return todo_ == 0; }
  std::size_t failed = 0;

private:
  std::uint32_t next_, last_;
  std::size_t todo_;
  std::vector<std::vector<std::uint32_t>> retry_;  // per socket
};

}  // namespace punch::bench
