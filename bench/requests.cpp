// Requests for punch-bench, built with punch's own STUN builder.
#include "requests.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace punch::bench {
namespace {

std::uint16_t method_code(request_kind k) noexcept {
  switch (k) {
    case request_kind::binding: return wire::method::binding;
    case request_kind::register_peer:
    case request_kind::register_signed:
    case request_kind::register_spoofed: return wire::method::register_peer;
    case request_kind::lookup: return wire::method::lookup;
    case request_kind::connect: return wire::method::connect;
    case request_kind::relay: return wire::method::allocate;
  }
  return 0;
}

}  // namespace

std::string_view name_of(request_kind k) noexcept {
  switch (k) {
    case request_kind::binding: return "binding";
    case request_kind::register_peer: return "register";
    case request_kind::register_signed: return "register-signed";
    case request_kind::lookup: return "lookup";
    case request_kind::connect: return "connect";
    case request_kind::relay: return "relay";
    case request_kind::register_spoofed: return "register-spoofed";
  }
  return "?";
}

std::span<const std::byte> build_request(std::span<std::byte> out, const request_fields& f,
                                         const stun::transaction_id& id) {
  stun::builder b(out, stun::message_class::request, method_code(f.kind), id);
  switch (f.kind) {
    case request_kind::binding:
      break;
    case request_kind::register_peer:
    case request_kind::register_signed:
    case request_kind::register_spoofed:
      b.add_string(wire::attr::peer_id, f.id);
      b.add_xor_address(wire::attr::host_candidate, f.host);
      b.add_u32(wire::attr::lifetime, f.lifetime);
      if (f.key) b.add(wire::attr::public_key, f.key->key());
      if (f.key && (!f.nonce.empty() || f.timestamp != 0)) {
        if (!f.nonce.empty()) b.add(wire::attr::nonce, f.nonce);
        else b.add_u64(wire::attr::timestamp, f.timestamp);
        b.add_covering(wire::attr::signature, signature_size, [&](std::span<const std::byte> covered, std::span<std::byte> value) {
          const auto sig = f.key->sign(covered);
          std::memcpy(value.data(), sig.data(), sig.size());
        });
      } else {
        if (!f.credential.empty()) b.add(wire::attr::refresh_credential, f.credential);
        wire::pad_request(b, wire::answer_bound::reg);  // the size of the largest answer
      }
      break;
    case request_kind::lookup:
      b.add_string(wire::attr::target_id, f.target);
      wire::pad_request(b, wire::answer_bound::lookup);
      break;
    case request_kind::connect:
      b.add_string(wire::attr::peer_id, f.id);
      b.add_string(wire::attr::target_id, f.target);
      wire::pad_request(b, wire::answer_bound::connect);
      break;
    case request_kind::relay:
      b.add(wire::attr::relay_id, std::as_bytes(std::span(f.target)));
      if (!f.nonce.empty()) b.add(wire::attr::nonce, f.nonce);
      wire::pad_request(b, wire::answer_bound::allocate);
      break;
  }
  return b.finish_with_fingerprint();
}

std::uint16_t method_of(std::span<const std::byte> d) noexcept {
  if (d.size() < stun::header_size) return 0;
  const auto type = static_cast<std::uint16_t>((std::to_integer<unsigned>(d[0]) << 8) | std::to_integer<unsigned>(d[1]));
  // RFC 8489 §5: the method's bits around the two class bits (0x0110).
  return static_cast<std::uint16_t>((type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2));
}

int error_code_of(std::span<const std::byte> d) noexcept {
  error_code ec;
  auto m = stun::message::parse(d, ec);
  auto a = m ? m->find(stun::attr::error_code) : std::nullopt;
  auto v = a ? stun::decode_error_code(*a, ec) : std::nullopt;
  return v ? v->code : 0;
}

std::span<const std::byte> nonce_of(std::span<const std::byte> d) noexcept {
  error_code ec;
  auto m = stun::message::parse(d, ec);
  auto a = m ? m->find(wire::attr::nonce) : std::nullopt;
  return a ? a->value : std::span<const std::byte>{};
}

std::span<const std::byte> credential_of(std::span<const std::byte> d) noexcept {
  error_code ec;
  auto m = stun::message::parse(d, ec);
  auto a = m ? m->find(wire::attr::refresh_credential) : std::nullopt;
  return a ? a->value : std::span<const std::byte>{};
}

answer_class classify(std::span<const std::byte> d) noexcept {
  if (d.size() < stun::header_size || (d[0] & std::byte{0xC0}) != std::byte{0}) return answer_class::other;
  const auto type = (std::to_integer<unsigned>(d[0]) << 8) | std::to_integer<unsigned>(d[1]);
  switch (type & 0x0110) {
    case 0x0000: return answer_class::request;
    case 0x0100: return answer_class::success;
    case 0x0110: return answer_class::error;
    default: return answer_class::other;
  }
}

std::span<const std::byte> introduce_ack(std::span<std::byte, stun::header_size> out,
                                         std::span<const std::byte> d) noexcept {
  stun::transaction_id id{};
  std::copy_n(d.begin() + 8, id.size(), id.begin());
  stun::builder b(out, stun::message_class::success_response, wire::method::introduce, id);
  return b.finish();
}

}  // namespace punch::bench
