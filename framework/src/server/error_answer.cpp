#include "server/error_answer.hpp"

#include "punch/wire/protocol.hpp"

#include <algorithm>
#include <charconv>

namespace punch::detail {
namespace {

std::span<const std::byte> finish(stun::builder& b, bool fingerprint) noexcept {
  auto bytes = fingerprint ? b.finish_with_fingerprint() : b.finish();
  if (b.error()) return {};
  return bytes;
}

}  // namespace

std::string_view pad_reason(reason_text& text, std::size_t answer_size) noexcept {
  constexpr std::string_view head = "pad request to ", tail = " bytes";
  auto at = std::copy(head.begin(), head.end(), text.begin());
  at = std::to_chars(at, text.end() - tail.size(), answer_size).ptr;
  at = std::copy(tail.begin(), tail.end(), at);
  return {text.data(), static_cast<std::size_t>(at - text.begin())};
}

std::span<const std::byte> error_answer(std::span<std::byte> out, const stun::message& request, int code,
                                        std::string_view reason, bool fingerprint) noexcept {
  stun::builder b(out, stun::message_class::error_response, request.method(), request.id());
  b.add_error_code(code, reason.substr(0, max_reason_size));
  return finish(b, fingerprint);
}

std::span<const std::byte> unknown_attributes_answer(std::span<std::byte> out, const stun::message& request,
                                                     understood_fn understood, std::size_t max_listed,
                                                     std::size_t budget, bool fingerprint) noexcept {
  constexpr std::size_t most = 16;
  std::array<std::byte, 2 * most> listed{};
  max_listed = std::min(max_listed, most);
  std::size_t n = 0;
  for (const stun::attribute a : request) {
    if (understood(a) || n == max_listed) continue;
    // 20 header + 28 ERROR-CODE + 4 + padded list + 8 FINGERPRINT must fit the budget.
    if (60 + ((2 * (n + 1) + 3) & ~std::size_t{3}) > budget) break;
    listed[2 * n] = std::byte(a.type >> 8);
    listed[2 * n + 1] = std::byte(a.type & 0xFF);
    ++n;
  }
  if (n == 0) return {};
  stun::builder b(out, stun::message_class::error_response, request.method(), request.id());
  b.add_error_code(wire::error::unknown_attribute, "unknown attribute");
  b.add(stun::attr::unknown_attributes, std::span<const std::byte>(listed).first(2 * n));
  return finish(b, fingerprint);
}

}  // namespace punch::detail
