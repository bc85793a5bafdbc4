// What punch-bench sends: a steady stream of one request kind, the registrations a Register,
// Lookup or Connect run needs first (which also get each socket its NONCE and its
// REFRESH-CREDENTIAL), and the bulk registration that fills a broker for the memory curve.
// Signed Registers are signed as a peer signs them: one identity key per client socket, over
// the NONCE of the broker's last answer to that socket, so the broker verifies a signature
// per Register; refreshes carry the credential of the socket's signed Register instead, as a
// session's keepalive does (docs/protocol.md).
#pragma once

#include "load.hpp"

#include "punch/identity.hpp"

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

// Per client socket of one load: its identity key (made once), the NONCE the broker last
// sent it and the REFRESH-CREDENTIAL of its last signed Register. For the echo server, which
// issues neither, stand-ins of the right sizes, so that it gets Registers of the broker's
// size, signed just the same.
struct credentials {
  credentials(std::size_t sockets, bool stand_in) : nonces(sockets), refresh(sockets) {
    for (std::size_t i = 0; i < sockets; ++i) {
      std::array<std::byte, 32> seed{};
      std::memcpy(seed.data(), &i, sizeof i);
      keys.push_back(identity::from_seed(seed));
      if (stand_in) {
        nonces[i].assign(wire::nonce_size, std::byte{0});
        refresh[i].assign(wire::refresh_credential_size, std::byte{0});
      }
    }
  }
  // Keeps the NONCE and the REFRESH-CREDENTIAL of an answer to socket i, if it has them.
  void learn(std::size_t i, std::span<const std::byte> answer) {
    if (auto n = nonce_of(answer); !n.empty()) nonces[i].assign(n.begin(), n.end());
    if (auto c = credential_of(answer); !c.empty()) refresh[i].assign(c.begin(), c.end());
  }
  request_fields signed_register(std::size_t i, std::string_view id, stun::endpoint host, std::uint32_t lifetime) const {
    auto f = fields(request_kind::register_signed, id, {}, host, lifetime);
    f.key = &keys[i];
    f.nonce = nonces[i];
    return f;
  }
  // What socket i's signed Register registered, refreshed with its credential.
  request_fields refresh_register(std::size_t i, std::string_view id, stun::endpoint host, std::uint32_t lifetime) const {
    auto f = fields(request_kind::register_peer, id, {}, host, lifetime);
    f.key = &keys[i];
    f.credential = refresh[i];
    return f;
  }
  std::vector<identity> keys;
  std::vector<std::vector<std::byte>> nonces;
  std::vector<std::vector<std::byte>> refresh;
};

inline stun::endpoint host_candidate(const udp_endpoint& local) {
  return {asio::ip::make_address_v4("192.168.77.1"), local.port()};
}

// The same kind of request from every socket, for as long as the run lasts. Socket i is
// registered as "<tag>s<i>" (register_sockets); Register refreshes that registration with the
// socket's credential (no signature: the steady state of a keepalive), Lookup asks for socket
// i+1, Connect introduces socket i to socket i+1 (whose load acknowledges the Introduce).
// Register-signed registers one of 16 other ids per socket in turn, each signed.
// Paired (`requesters` > 0): only sockets [0, requesters) send, socket i asking for socket
// i + requesters, which only acknowledges its Introduces: the targets may be held by another
// broker than the one the requests go to.
class steady_workload final : public workload {
public:
  steady_workload(request_kind k, std::string tag, std::size_t sockets, credentials& creds, std::size_t requesters = 0)
      : kind_(k), tag_(std::move(tag)), sockets_(sockets), requesters_(requesters), turn_(sockets), creds_(creds) {}

  std::span<const std::byte> next(std::size_t i, const udp_endpoint& local, std::span<std::byte> out,
                                  stun::transaction_id& id) override {
    if (requesters_ > 0 && i >= requesters_) return {};
    const std::size_t peer = requesters_ > 0 ? i + requesters_ : (i + 1) % sockets_;
    switch (kind_) {
      case request_kind::binding:
        return build_request(out, fields(kind_), id);
      case request_kind::register_peer: {
        const id_text me("%ss%zu", tag_.c_str(), i);
        return build_request(out, creds_.refresh_register(i, me.view, host_candidate(local), 600), id);
      }
      case request_kind::register_signed: {
        const id_text me("%ss%zuk%zu", tag_.c_str(), i, turn_[i]++ % 16);
        return build_request(out, creds_.signed_register(i, me.view, host_candidate(local), 600), id);
      }
      case request_kind::lookup: {
        const id_text target("%ss%zu", tag_.c_str(), peer);
        return build_request(out, fields(kind_, {}, target.view), id);
      }
      case request_kind::connect: {
        const id_text me("%ss%zu", tag_.c_str(), i), target("%ss%zu", tag_.c_str(), peer);
        return build_request(out, fields(kind_, me.view, target.view), id);
      }
      case request_kind::relay:
      case request_kind::register_spoofed:
        break;  // relay_workloads.hpp, spoofed_flood.hpp
    }
    return {};
  }
  // A signed Register signs the NONCE of the answer before it, as a peer does.
  void answered(std::size_t i, const stun::transaction_id&, answer_class c, std::span<const std::byte> d) override {
    if (kind_ == request_kind::register_signed && c == answer_class::success && !echo) creds_.learn(i, d);
  }

private:
  request_kind kind_;
  std::string tag_;
  std::size_t sockets_;
  std::size_t requesters_;
  std::vector<std::size_t> turn_;
  credentials& creds_;
};

// One request per socket until each has its answer: one lost is sent again, and one
// challenged with 401 or 438 (the NONCE round of the broker's Register and of the relay's
// ALLOCATE) is sent again with the NONCE it came with, twice at most. `learn` keeps what each
// answer carries; `next` sends only when take_turn(i) says so.
class nonce_round : public workload {
public:
  explicit nonce_round(std::size_t sockets) : state_(sockets, 0), tries_(sockets, 0) {}

  void answered(std::size_t i, const stun::transaction_id&, answer_class c, std::span<const std::byte> d) override {
    learn(i, d);
    const int code = c == answer_class::error ? error_code_of(d) : 0;
    if ((code == wire::error::unauthenticated || code == wire::error::stale_nonce) && ++tries_[i] < 3) {
      state_[i] = 0;  // again, with the NONCE it came with
      return;
    }
    state_[i] = 2;
    if (c != answer_class::success) ++failed;
    ++done_;
  }
  void lost(std::size_t i, const stun::transaction_id&) override { state_[i] = 0; }
  bool finished() const override { return done_ == state_.size(); }
  std::size_t failed = 0;

protected:
  virtual void learn(std::size_t i, std::span<const std::byte> answer) = 0;
  // True if socket i is to send its request now (it is then in flight).
  bool take_turn(std::size_t i) {
    if (state_[i] != 0) return false;
    state_[i] = 1;
    return true;
  }

private:
  std::vector<int> state_;  // 0 to send, 1 in flight, 2 answered
  std::vector<int> tries_;
  std::size_t done_ = 0;
};

// Registers socket i as "<tag>s<i>" once, retrying a lost request; done when all are. The
// first Register of a socket without a NONCE is unsigned and challenged (401 with a NONCE),
// and sent again signed: afterwards every socket has its NONCE, and the credential that
// refreshes "<tag>s<i>".
class register_sockets final : public nonce_round {
public:
  register_sockets(std::string tag, std::size_t sockets, credentials& creds)
      : nonce_round(sockets), tag_(std::move(tag)), creds_(creds) {}

  std::span<const std::byte> next(std::size_t i, const udp_endpoint& local, std::span<std::byte> out,
                                  stun::transaction_id& id) override {
    if (!take_turn(i)) return {};
    const id_text me("%ss%zu", tag_.c_str(), i);
    return build_request(out, creds_.signed_register(i, me.view, host_candidate(local), 600), id);
  }

private:
  void learn(std::size_t i, std::span<const std::byte> answer) override { creds_.learn(i, answer); }

  std::string tag_;
  credentials& creds_;
};

// Registers "peer-<n>" for n in [first, last) from whichever socket is free, each with one
// host candidate, so that the broker ends up holding all of them. A lost request is retried
// from the same socket: from another one (another key), an answer that was only late would
// make it 403. The sockets need their NONCEs first (register_sockets).
class bulk_register final : public workload {
public:
  bulk_register(std::uint32_t first, std::uint32_t last, credentials& creds)
      : next_(first), last_(last), todo_(last - first), creds_(creds) {}

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
    return build_request(out, creds_.signed_register(i, me.view, host_candidate(local), 3600), id);
  }
  void answered(std::size_t i, const stun::transaction_id&, answer_class c, std::span<const std::byte> d) override {
    if (c != answer_class::success) ++failed;
    creds_.learn(i, d);
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
  credentials& creds_;
};

}  // namespace punch::bench
