// The broker's answers to STUN Binding: XOR-MAPPED-ADDRESS for RFC 8489 clients, and
// MAPPED-ADDRESS with the whole 128-bit transaction id echoed for RFC 3489 clients (RFC 8489
// §11), so that any standard STUN client learns its reflexive address here.
#include "broker/broker_state.hpp"

#include <algorithm>
#include <array>

namespace punch {

using namespace detail;

std::span<const std::byte> broker::impl::on_binding(const request& r) {
  ++stats.bindings;
  stun::builder b(out, stun::message_class::success_response, wire::method::binding, r.msg.id());
  b.add_xor_address(stun::attr::xor_mapped_address, r.source);
  // RFC 8489 §7.3: FINGERPRINT only if the client used it; no SOFTWARE, to stay small.
  return r.msg.has_fingerprint() ? b.finish_with_fingerprint() : b.finish();
}

std::span<const std::byte> broker::impl::on_classic_binding(std::span<const std::byte> d,
                                                            const endpoint& src,
                                                            clock::time_point now) {
  // Only a Binding request (type 0x0001) that fits our buffers is worth re-framing.
  if (d.size() < stun::header_size || d.size() > scratch.size() || d[0] != std::byte{0} ||
      d[1] != std::byte{1}) {
    ++stats.malformed;
    return {};
  }
  // Re-frame with the magic cookie so the codec validates the rest as usual.
  std::copy(d.begin(), d.end(), scratch.begin());
  const std::array<std::byte, 4> cookie{std::byte{0x21}, std::byte{0x12}, std::byte{0xA4},
                                        std::byte{0x42}};
  std::copy(cookie.begin(), cookie.end(), scratch.begin() + 4);
  error_code ec;
  auto m = stun::message::parse(std::span<const std::byte>(scratch).first(d.size()), ec);
  if (!m) {
    ++stats.malformed;
    return {};
  }
  const request r{*m, src, unmapped(src), std::max(d.size(), response_floor), now};
  auto answer = unknown_attributes(r);
  if (answer.empty()) {
    ++stats.bindings;
    // RFC 8489 §11: MAPPED-ADDRESS instead of XOR-MAPPED-ADDRESS for RFC 3489 clients.
    stun::builder b(out, stun::message_class::success_response, wire::method::binding, m->id());
    b.add_address(stun::attr::mapped_address, r.source);
    answer = b.finish();
  }
  // RFC 8489 §11: echo the client's 128-bit transaction id, cookie field included.
  if (answer.size() >= stun::header_size) std::copy(d.begin() + 4, d.begin() + 8, out.begin() + 4);
  return answer;
}

}  // namespace punch
