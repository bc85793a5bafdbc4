// parse_redis_url and to_string(redis_address): the two URL forms of punch-broker --redis.
#include "punch/redis.hpp"

#include <boost/asio/ip/address.hpp>

#include <charconv>

namespace punch {
namespace {

constexpr std::string_view tcp_scheme = "redis://";
constexpr std::string_view unix_scheme = "redis+unix://";

struct parse_error {
  std::string what;
};

// A whole decimal number from 0 to `max`; nullopt for anything else (sign, spaces, empty).
std::optional<std::uint64_t> number(std::string_view s, std::uint64_t max) {
  std::uint64_t v = 0;
  if (s.empty() || s.size() > 10) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX escapes decoded; a '%' without two hex digits after it is an error naming `part`.
std::string unescape(std::string_view s, const char* part) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || hex_digit(s[i + 1]) < 0 || hex_digit(s[i + 2]) < 0)
      throw parse_error{std::string("bad %-escape in the ") + part + " (expected % and two hex digits)"};
    out += static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
    i += 2;
  }
  return out;
}

// "[user]:password@" at the front of `rest`, taken off it (up to the last '@' before `end`).
void read_credentials(std::string_view& rest, std::size_t end, redis_address& a) {
  const auto at = rest.substr(0, end).rfind('@');
  if (at == std::string_view::npos) return;
  const auto userinfo = rest.substr(0, at);
  const auto colon = userinfo.find(':');
  if (colon == std::string_view::npos)
    throw parse_error{"credentials \"" + std::string(userinfo) + "@\" have no ':' (expected [user]:password@)"};
  a.user = unescape(userinfo.substr(0, colon), "user");
  a.password = unescape(userinfo.substr(colon + 1), "password");
  if (a.password.empty()) throw parse_error{"empty password before '@' (leave out \"[user]:@\" for none)"};
  rest.remove_prefix(at + 1);
}

std::uint32_t read_db(std::string_view text) {
  auto db = number(text, 0xFFFFFFFFu);
  if (!db) throw parse_error{"database \"" + std::string(text) + "\" is not a number from 0 to 4294967295"};
  return static_cast<std::uint32_t>(*db);
}

std::uint16_t read_port(std::string_view text) {
  auto port = number(text, 65535);
  if (!port || *port == 0) throw parse_error{"port \"" + std::string(text) + "\" is not a number from 1 to 65535"};
  return static_cast<std::uint16_t>(*port);
}

// redis://[[user]:password@]host[:port][/db]
redis_address parse_tcp(std::string_view rest) {
  redis_address a;
  a.type = redis_address::kind::tcp;
  read_credentials(rest, rest.find('/'), a);
  const auto slash = rest.find('/');
  auto hostport = rest.substr(0, slash);
  if (slash != std::string_view::npos && slash + 1 < rest.size()) a.db = read_db(rest.substr(slash + 1));
  if (hostport.empty()) throw parse_error{"no host (expected redis://host[:port][/db])"};
  std::string_view port;
  if (hostport.front() == '[') {
    const auto close = hostport.find(']');
    if (close == std::string_view::npos) throw parse_error{"IPv6 address without its closing ']'"};
    a.host = std::string(hostport.substr(1, close - 1));
    error_code ec;
    (void)asio::ip::make_address_v6(a.host, ec);
    if (ec) throw parse_error{"\"" + a.host + "\" between [ ] is not an IPv6 address"};
    const auto after = hostport.substr(close + 1);
    if (!after.empty() && after.front() != ':')
      throw parse_error{"unexpected \"" + std::string(after) + "\" after the IPv6 address"};
    if (!after.empty()) port = after.substr(1);
    if (!after.empty() && port.empty()) throw parse_error{"empty port after ':'"};
  } else {
    const auto colon = hostport.find(':');
    a.host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = hostport.substr(colon + 1);
      if (port.find(':') != std::string_view::npos)
        throw parse_error{"host \"" + std::string(hostport) + "\" has several ':' (write an IPv6 address as [::1])"};
      if (port.empty()) throw parse_error{"empty port after ':'"};
    }
    if (a.host.empty()) throw parse_error{"no host before ':'"};
  }
  if (!port.empty()) a.port = read_port(port);
  return a;
}

// redis+unix://[[user]:password@]/path/to/socket[?db=N]
redis_address parse_unix(std::string_view rest) {
  redis_address a;
  a.type = redis_address::kind::unix_socket;
  const auto query = rest.find('?');
  read_credentials(rest, rest.substr(0, query).find('/'), a);
  const auto q = rest.find('?');
  a.path = std::string(rest.substr(0, q));
  if (a.path.empty() || a.path.front() != '/')
    throw parse_error{"no absolute socket path (expected redis+unix:///path/to/socket)"};
  if (q != std::string_view::npos) {
    const auto param = rest.substr(q + 1);
    if (param.substr(0, 3) != "db=") throw parse_error{"unknown query \"" + std::string(param) + "\" (expected ?db=N)"};
    a.db = read_db(param.substr(3));
  }
  return a;
}

}  // namespace

redis_url_result parse_redis_url(std::string_view url) {
  redis_url_result r;
  try {
    if (url.starts_with(tcp_scheme)) {
      r.address = parse_tcp(url.substr(tcp_scheme.size()));
    } else if (url.starts_with(unix_scheme)) {
      r.address = parse_unix(url.substr(unix_scheme.size()));
    } else {
      throw parse_error{"expected redis://host[:port][/db] or redis+unix:///path/to/socket"};
    }
  } catch (const parse_error& e) {
    r.address.reset();
    r.error = "redis URL \"" + std::string(url) + "\": " + e.what;
  }
  return r;
}

std::string to_string(const redis_address& a) {
  std::string creds;
  if (!a.password.empty()) creds = a.user + ":***@";
  if (a.type == redis_address::kind::unix_socket)
    return std::string(unix_scheme) + creds + a.path + (a.db != 0 ? "?db=" + std::to_string(a.db) : "");
  const bool v6 = a.host.find(':') != std::string::npos;
  return std::string(tcp_scheme) + creds + (v6 ? "[" + a.host + "]" : a.host) + ":" + std::to_string(a.port) +
         (a.db != 0 ? "/" + std::to_string(a.db) : "");
}

}  // namespace punch
