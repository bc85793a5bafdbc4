// The register-spoofed kind (issue 18, "cookie mode under load"): a flood of first-datagram
// Registers, each signed over a fresh TIMESTAMP (docs/protocol.md, "TIMESTAMP") with one of a
// few keys made once, each for another id, from sources that never answer the broker's
// challenge, as a spoofer who never sees the NONCE. Every datagram differs (its transaction
// id and its id), so whenever the broker is not busy it verifies each one it gets, until
// cookie_threshold verifications in a second put it in cookie mode: a flood at the load's
// rate holds it there, paying for at most that many verifications a second.
//
// Signing costs the client ~18 µs, far more than the broker's answer, so the Registers are
// signed before the run starts (spoofed_pool), one per socket and sequence number (the load
// puts the sequence number in the transaction id, which the signature covers); a run that
// outgrows the pool signs the rest as it sends them.
#pragma once

#include "workloads.hpp"

#include <chrono>
#include <cstring>
#include <vector>

namespace punch::bench {

// Signed Registers for `sockets` sockets, `per_socket` each: entry (i, seq) has the
// transaction id the load gives socket i's request number seq.
class spoofed_pool {
public:
  spoofed_pool(std::string tag, std::size_t sockets, std::size_t per_socket)
      : tag_(std::move(tag)), sockets_(sockets), per_socket_(per_socket),
        bytes_(sockets * per_socket * stride), sizes_(sockets * per_socket) {
    for (std::size_t k = 0; k < keys; ++k) {
      std::array<std::byte, 32> seed{};
      seed[0] = std::byte{0x5f};
      seed[1] = static_cast<std::byte>(k);
      keys_.push_back(identity::from_seed(seed));
    }
    // Each stamped when signed: the broker takes TIMESTAMPs within 30 s of its clock.
    for (std::size_t i = 0; i < sockets; ++i)
      for (std::uint64_t seq = 0; seq < per_socket; ++seq) {
        const auto at = i * per_socket + seq;
        sizes_[at] = build(i, seq, now_ms(), std::span(bytes_).subspan(at * stride, stride)).size();
      }
  }

  // Socket i's request number seq (bytes 0..7 of `id`) into `out`.
  std::span<const std::byte> next(std::size_t i, const stun::transaction_id& id, std::span<std::byte> out) {
    std::uint64_t seq = 0;
    std::memcpy(&seq, id.data(), sizeof seq);
    if (i >= sockets_ || seq >= per_socket_) {
      ++signed_late;
      return build(i, seq, now_ms(), out);
    }
    const auto at = i * per_socket_ + seq;
    std::memcpy(out.data(), bytes_.data() + at * stride, sizes_[at]);
    return out.first(sizes_[at]);
  }

  std::size_t signed_late = 0;  // Registers signed during the run: the pool was too small

private:
  static constexpr std::size_t keys = 8;
  static constexpr std::size_t stride = 256;  // ~190 bytes each

  static std::uint64_t now_ms() {
    const auto t = std::chrono::system_clock::now().time_since_epoch();
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(t).count());
  }

  std::span<const std::byte> build(std::size_t i, std::uint64_t seq, std::uint64_t now, std::span<std::byte> out) const {
    stun::transaction_id id{};
    std::memcpy(id.data(), &seq, sizeof seq);
    const id_text me("%ss%zun%llu", tag_.c_str(), i, static_cast<unsigned long long>(seq));
    auto f = fields(request_kind::register_spoofed, me.view, {},
                    {asio::ip::make_address_v4("192.168.77.1"), static_cast<std::uint16_t>(4000 + i)}, 600);
    f.key = &keys_[i % keys];
    f.timestamp = now;
    return build_request(out, f, id);
  }

  std::string tag_;
  std::size_t sockets_, per_socket_;
  std::vector<identity> keys_;
  std::vector<std::byte> bytes_;
  std::vector<std::size_t> sizes_;
};

// Sends the pool's Registers and never answers a challenge: each answer (401 "busy" with a
// NONCE in cookie mode, or a success for one the broker verified) only completes its request.
class spoofed_flood final : public workload {
public:
  explicit spoofed_flood(spoofed_pool* pool) : pool_(pool) {}  // null: sends nothing
  std::span<const std::byte> next(std::size_t i, const udp_endpoint&, std::span<std::byte> out,
                                  stun::transaction_id& id) override {
    return pool_ ? pool_->next(i, id, out) : std::span<const std::byte>{};
  }

private:
  spoofed_pool* pool_;
};

}  // namespace punch::bench
