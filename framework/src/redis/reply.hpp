// A Redis reply copied out of hiredis's (which it frees when the callback returns), and the
// small helpers that read one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

struct redisReply;

namespace punch::detail {

struct redis_reply {
  enum class kind { nil, status, error, integer, string, array };
  kind type = kind::nil;
  std::string text;           // status, error, string
  std::int64_t integer = 0;   // integer
  std::vector<redis_reply> elements;  // array

  bool is_error() const noexcept { return type == kind::error; }
  // An error reply whose code (its first word) is `code`, e.g. "NOSCRIPT".
  bool is_error(std::string_view code) const noexcept {
    return type == kind::error && std::string_view(text).substr(0, code.size()) == code &&
           (text.size() == code.size() || text[code.size()] == ' ');
  }
};

redis_reply copy_reply(const redisReply& r);

}  // namespace punch::detail
