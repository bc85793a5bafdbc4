// The servers' shared command-line parsers and log line (see server_common.hpp).
#include "server_common.hpp"

#include <boost/asio/ip/address.hpp>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <mutex>

namespace punch::apps {
namespace {

// UTC with milliseconds, ISO 8601: sortable, and the same on every host of a deployment.
std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(ms));
  return text;
}

}  // namespace

std::optional<std::uint64_t> parse_number(std::string_view text, std::uint64_t max) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value > max)
    return std::nullopt;
  return value;
}

std::optional<host_and_port> split_host_port(std::string_view text, const char* host_word, std::string& error) {
  host_and_port hp;
  std::string_view port;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      error = "expected [IPv6]:PORT";
      return std::nullopt;
    }
    hp.host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      error = std::string("expected ") + host_word + ":PORT";
      return std::nullopt;
    }
    if (text.find(':') != colon) {
      error = "an IPv6 address needs brackets, as in [::1]:3478";
      return std::nullopt;
    }
    hp.host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto p = parse_number(port, 65535);
  if (!p) {
    error = "the port must be a number from 0 to 65535";
    return std::nullopt;
  }
  hp.port = static_cast<std::uint16_t>(*p);
  return hp;
}

std::optional<endpoint> parse_endpoint(std::string_view text, std::string& error) {
  auto hp = split_host_port(text, "ADDR", error);
  if (!hp) return std::nullopt;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(std::string(hp->host), ec);
  if (ec) {
    error = "the address must be numeric, as in 0.0.0.0 or [::]";
    return std::nullopt;
  }
  if (text.starts_with('[') != address.is_v6()) {
    error = address.is_v6() ? "an IPv6 address needs brackets" : "only IPv6 addresses go in brackets";
    return std::nullopt;
  }
  return endpoint{address, hp->port};
}

void log_line(std::string_view text) {
  static std::mutex mutex;
  const std::string line = timestamp() + ' ' + std::string(text) + '\n';
  std::lock_guard lock(mutex);
  std::cerr << line << std::flush;
}

std::string id_prefix(std::span<const std::byte> id) {
  char text[8];
  std::snprintf(text, sizeof text, "%02x%02x", std::to_integer<unsigned>(id[0]), std::to_integer<unsigned>(id[1]));
  return std::string(text) + "…";
}

}  // namespace punch::apps
