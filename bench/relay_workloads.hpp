// What punch-bench's relay kind sends (docs/performance.md, "Relay: datagrams per
// CPU-second"): the set-up of pairs of allocations (punch-relay's ALLOCATE with a RELAY-ID per
// pair and its NONCE round; a TURN Allocate and ChannelBind to the other side's relayed address
// at coturn), and the steady stream of datagrams from each socket to its pair's other socket,
// completed where they arrive. Sockets 2k and 2k+1 of a load are pair k.
#pragma once

#include "load.hpp"
#include "workloads.hpp"

#include "punch/relay.hpp"
#include "punch/wire/protocol.hpp"
#include "punch/wire/turn.hpp"

#include <array>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace punch::bench {

inline std::size_t partner_of(std::size_t socket) { return socket ^ 1; }

// The bytes every relayed datagram starts with: 0xC0 (the first bits of a punch data frame,
// neither STUN nor ChannelData), the sender's socket index at 4..7 and the load's sequence
// number at 8..15; zeros after that, up to the payload size.
inline constexpr std::size_t relay_header_size = 16;
inline constexpr std::byte relay_marker{0xC0};

// Pair `pair`'s RELAY-ID: "bench-<tag>" and the pair number, so that pairs of different loads
// (the memory fill, the rounds) never meet.
inline relay_id relay_id_of(std::uint32_t tag, std::uint32_t pair) {
  relay_id id{};
  std::memcpy(id.data(), "bench-", 6);
  std::memcpy(id.data() + 8, &tag, sizeof tag);
  std::memcpy(id.data() + 12, &pair, sizeof pair);
  return id;
}

// Allocates pair (first_pair + i/2) from socket i at punch-relay: an ALLOCATE without NONCE
// (401 with one), then with it; a lost request is sent again. Done when every socket has its
// side.
class relay_allocate final : public nonce_round {
public:
  relay_allocate(std::size_t sockets, std::uint32_t tag, std::uint32_t first_pair = 0)
      : nonce_round(sockets), tag_(tag), first_pair_(first_pair), nonces_(sockets) {}

  std::span<const std::byte> next(std::size_t i, const udp_endpoint&, std::span<std::byte> out,
                                  stun::transaction_id& id) override {
    if (!take_turn(i)) return {};
    const relay_id rid = relay_id_of(tag_, first_pair_ + static_cast<std::uint32_t>(i / 2));
    request_fields f;
    f.kind = request_kind::relay;
    f.target = std::string_view(reinterpret_cast<const char*>(rid.data()), rid.size());
    f.nonce = nonces_[i];
    return build_request(out, f, id);
  }

private:
  void learn(std::size_t i, std::span<const std::byte> answer) override {
    if (auto n = nonce_of(answer); !n.empty()) nonces_[i].assign(n.begin(), n.end());
  }

  std::uint32_t tag_, first_pair_;
  std::vector<std::vector<std::byte>> nonces_;
};

// Allocates at a TURN server from every socket (long-term credentials: the 401 round gives
// REALM and NONCE), then binds channel 0x4000 on each socket to its partner's relayed address
// (which also installs the permission, RFC 8656 §11.2). Done when every socket's channel is.
// One-sided, only the even sockets allocate, and bind their channel to their partner's own
// address, which then sends to the relayed address (relayed_address) without TURN framing:
// one pass through the server per datagram instead of two.
class turn_allocate final : public workload {
public:
  turn_allocate(std::size_t sockets, std::string user, std::string password, bool one_sided = false)
      : user_(std::move(user)), password_(std::move(password)), one_sided_(one_sided), s_(sockets) {}

  // Socket i's relayed address; one-sided, an odd socket's own address.
  std::optional<endpoint> relayed_address(std::size_t i) const { return s_[i].relayed; }

  static constexpr std::uint16_t channel = turn::min_channel;

  std::span<const std::byte> next(std::size_t i, const udp_endpoint& local, std::span<std::byte> out,
                                  stun::transaction_id& id) override {
    auto& s = s_[i];
    if (s.in_flight || s.step == phase::done) return {};
    if (one_sided_ && i % 2 == 1) {  // no allocation: its partner binds to its address
      s.relayed = local;
      s.step = phase::done;
      ++done_;
      return {};
    }
    if (s.step == phase::bind && !s_[partner_of(i)].relayed) return {};  // its relayed address first
    s.in_flight = true;
    const bool allocating = s.step == phase::allocate;
    stun::builder b(out, stun::message_class::request, allocating ? turn::method::allocate : turn::method::channel_bind,
                    id);
    if (allocating) {
      turn::add_requested_transport(b);
      b.add_u32(turn::attr::lifetime, 3600);
    } else {
      turn::add_channel_number(b, channel);
      b.add_xor_address(turn::attr::xor_peer_address, *s_[partner_of(i)].relayed);
    }
    if (!s.nonce.empty()) {
      b.add_string(turn::attr::username, user_);
      b.add_string(turn::attr::realm, realm_);
      b.add(turn::attr::nonce, s.nonce);
      turn::add_message_integrity(b, key_);
    }
    return b.finish_with_fingerprint();
  }
  void answered(std::size_t i, const stun::transaction_id&, answer_class c, std::span<const std::byte> d) override {
    auto& s = s_[i];
    s.in_flight = false;
    error_code ec;
    const auto m = stun::message::parse(d, ec);
    if (!m) return fail(s);
    if (c == answer_class::error) {
      const int code = error_code_of(d);
      auto nonce = m->find(turn::attr::nonce);
      auto realm = m->find(turn::attr::realm);
      if ((code != turn::error::unauthorized && code != turn::error::stale_nonce) || !nonce || ++s.tries > 3)
        return fail(s);
      s.nonce.assign(nonce->value.begin(), nonce->value.end());
      if (realm && realm_.empty()) {
        realm_ = std::string(stun::decode_string(*realm));
        key_ = turn::make_long_term_key(user_, realm_, password_);
      }
      return;  // again, with credentials
    }
    if (s.step == phase::allocate) {
      if (auto a = m->find(turn::attr::xor_relayed_address)) s.relayed = stun::decode_xor_address(*a, m->id(), ec);
      if (!s.relayed) return fail(s);
      s.step = phase::bind;
      s.tries = 0;
      return;
    }
    s.step = phase::done;
    ++done_;
  }
  void lost(std::size_t i, const stun::transaction_id&) override { s_[i].in_flight = false; }
  bool finished() const override { return done_ == s_.size(); }
  std::size_t failed = 0;

private:
  enum class phase { allocate, bind, done };
  struct side {
    phase step = phase::allocate;
    bool in_flight = false;
    int tries = 0;
    std::vector<std::byte> nonce;
    std::optional<endpoint> relayed;  // this socket's relayed address
  };
  void fail(side& s) {
    s.step = phase::done;
    ++failed;
    ++done_;
  }

  std::string user_, password_, realm_;
  bool one_sided_;
  turn::long_term_key key_{};
  std::vector<side> s_;
  std::size_t done_ = 0;
};

// How relay_stream frames what a socket sends: as it is (punch-relay, the echo), as ChannelData
// on turn_allocate::channel from every socket (4 bytes more on the wire; the payload is the
// same), or from the even sockets only (one-sided TURN: the odd ones send to the relayed
// address as they are).
enum class framing { raw, channel_data, channel_data_even };

// Datagrams of `payload` bytes from every socket, each completed when it arrives: at the
// pair's other socket through a relay, or back at the sender from the echo.
class relay_stream final : public workload {
public:
  relay_stream(std::size_t payload, framing f) : payload_(payload), framing_(f) {}

  std::span<const std::byte> next(std::size_t i, const udp_endpoint&, std::span<std::byte> out,
                                  stun::transaction_id& id) override {
    const bool channel_data =
        framing_ == framing::channel_data || (framing_ == framing::channel_data_even && i % 2 == 0);
    const std::size_t header = channel_data ? turn::channel_data_header_size : 0;
    if (out.size() < header + payload_ || payload_ < relay_header_size) return {};
    std::byte* p = out.data() + header;
    std::memset(p, 0, payload_);
    p[0] = relay_marker;
    const auto sender = static_cast<std::uint32_t>(i);
    std::memcpy(p + 4, &sender, sizeof sender);
    std::memcpy(p + 8, id.data(), 8);
    if (channel_data) {
      const std::array<std::byte, 4> h{std::byte{turn_allocate::channel >> 8}, std::byte{turn_allocate::channel & 0xFF},
                                       static_cast<std::byte>(payload_ >> 8), static_cast<std::byte>(payload_ & 0xFF)};
      std::memcpy(out.data(), h.data(), h.size());
    }
    return out.first(header + payload_);
  }
  std::optional<arrival> relayed(std::size_t, std::span<const std::byte> d) override {
    if (framing_ != framing::raw && turn::looks_like_channel_data(d)) d = d.subspan(turn::channel_data_header_size);
    if (d.size() < relay_header_size || d[0] != relay_marker) return std::nullopt;
    arrival a;
    std::uint32_t sender = 0;
    std::memcpy(&sender, d.data() + 4, sizeof sender);
    std::memcpy(&a.seq, d.data() + 8, sizeof a.seq);
    a.sender = sender;
    return a;
  }

private:
  std::size_t payload_;
  framing framing_;
};

}  // namespace punch::bench
