// What the reference apps share besides the transport options: the HOST:PORT, ADDR:PORT and
// number parsers of their command lines; and the servers' timestamped log line and the short
// form of a token or RELAY-ID in it.
#pragma once

#include "punch/transport.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace punch::apps {

// "HOST:PORT" or "[V6]:PORT" split at the port's colon, the brackets checked (an IPv6 address
// needs them) and the port read (0 to 65535); on failure `error` says what is wrong, with
// `host_word` naming the first part ("ADDR", "HOST").
struct host_and_port {
  std::string_view host;  // without the brackets; a view into the text
  std::uint16_t port = 0;
};
std::optional<host_and_port> split_host_port(std::string_view text, const char* host_word, std::string& error);

// "ADDR:PORT" or "[V6]:PORT" with a numeric address; on failure `error` says what is wrong.
std::optional<endpoint> parse_endpoint(std::string_view text, std::string& error);

// A whole decimal number from 0 to `max`, nothing else.
std::optional<std::uint64_t> parse_number(std::string_view text, std::uint64_t max);

// Writes "2026-11-24T18:13:38.123Z <text>" to stderr and flushes it (whole lines, also from
// several threads), so that a script that reads the first line (where we listen) gets it at once.
void log_line(std::string_view text);

// "3fa2…": the first two bytes of a token or RELAY-ID in hex, enough to match the two peers'
// logs while the rest stays private.
std::string id_prefix(std::span<const std::byte> id);

}  // namespace punch::apps
