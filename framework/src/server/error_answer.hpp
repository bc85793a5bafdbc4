// STUN error answers of the broker and the relay (server module): ERROR-CODE with a short
// reason, "400 pad request to N bytes" for the amplification rule, and 420 with
// UNKNOWN-ATTRIBUTES (RFC 8489 §14.9). Written into the caller's buffer, never allocating.
#pragma once

#include "punch/wire/stun.hpp"

#include <array>
#include <cstddef>
#include <span>
#include <string_view>

namespace punch::detail {

// Error reasons are at most this long, so that an error answer stays small: 20 header + 8
// ERROR-CODE header + 28 reason + 8 FINGERPRINT fit the broker's 64-byte floor.
inline constexpr std::size_t max_reason_size = 28;

// A buffer for a reason written in place.
using reason_text = std::array<char, max_reason_size>;

// "pad request to N bytes", written into `text`: the answer would be `answer_size` bytes.
std::string_view pad_reason(reason_text& text, std::size_t answer_size) noexcept;

// An error response to `request` (its method and transaction id) with `code` and `reason`
// (cut to max_reason_size), finished with FINGERPRINT if `fingerprint`. Empty if it does not
// fit `out`.
std::span<const std::byte> error_answer(std::span<std::byte> out, const stun::message& request, int code,
                                        std::string_view reason, bool fingerprint) noexcept;

// True for an attribute the server understands or may ignore.
using understood_fn = bool (*)(const stun::attribute&);

// 420 listing the attributes of `request` that `understood` rejects: at most `max_listed`, and
// no more than keep the answer within `budget` bytes. Empty when there is none to list.
std::span<const std::byte> unknown_attributes_answer(std::span<std::byte> out, const stun::message& request,
                                                     understood_fn understood, std::size_t max_listed,
                                                     std::size_t budget, bool fingerprint) noexcept;

}  // namespace punch::detail
