// The bytes the Redis cluster stores and publishes: a registration as one compact string value
// (no hash: a plain string is the least Redis memory per key), and an introduction passed to
// another broker. Decoders check every length before they read; malformed input is refused.
//
// Entry value (the key is the prefix and the peer id):
//   0        1          33      34             34+H  35+H
//   +--------+----------+-------+--------------+-----+------------+----------------+-------+-------
//   | ver=1  | key (32) | H (1) | holder (H)   | nat | reflexive  | reflexive_alt  | n (1) | n hosts
//   +--------+----------+-------+--------------+-----+------------+----------------+-------+-------
// Endpoint: family (0 none, 4, 6), then the address (4 or 16 bytes) and the port (2, big-endian).
// The key and the holder come first, at fixed places, so that the Lua scripts compare them by
// prefix without parsing the rest.
//
// Introduction: ver=1 | from (1+n) | requester (1+n) | target (1+n) | token (16) | request (2+n)
#pragma once

#include "punch/cluster.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace punch::detail {

inline constexpr std::size_t entry_key_offset = 1;
inline constexpr std::size_t max_holder_size = 255;

// The value for `r` held by `holder` (at most max_holder_size bytes).
std::string encode_entry(const registration_record& r, std::string_view holder);
// Its first bytes up to the holder's end: what extend compares the stored value with.
std::string entry_owner_prefix(const registration_record& r, std::string_view holder);
// Fills out.record (but its id and expires) and out.holder; false when `v` is malformed.
bool decode_entry(std::string_view v, cluster_entry& out);

std::string encode_introduction(const cluster_introduction& in);
std::optional<cluster_introduction> decode_introduction(std::string_view v);

}  // namespace punch::detail
