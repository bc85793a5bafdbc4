// What punch-broker and punch-relay share besides the transport options: the ADDR:PORT and
// number parsers of their command lines, and their timestamped log line.
#pragma once

#include "punch/transport.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace punch::apps {

// "ADDR:PORT" or "[V6]:PORT" with a numeric address; on failure `error` says what is wrong.
std::optional<endpoint> parse_endpoint(std::string_view text, std::string& error);

// A whole decimal number from 0 to `max`, nothing else.
std::optional<std::uint64_t> parse_number(std::string_view text, std::uint64_t max);

// Writes "2026-11-24T18:13:38.123Z <text>" to stderr and flushes it (whole lines, also from
// several threads), so that a script that reads the first line (where we listen) gets it at once.
void log_line(std::string_view text);

}  // namespace punch::apps
