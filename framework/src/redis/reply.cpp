// copy_reply: hiredis's reply tree into a redis_reply.
#include "redis/reply.hpp"

#include <hiredis/hiredis.h>

namespace punch::detail {

redis_reply copy_reply(const redisReply& r) {
  redis_reply out;
  switch (r.type) {
    case REDIS_REPLY_STRING: out.type = redis_reply::kind::string; break;
    case REDIS_REPLY_STATUS: out.type = redis_reply::kind::status; break;
    case REDIS_REPLY_ERROR: out.type = redis_reply::kind::error; break;
    case REDIS_REPLY_INTEGER: out.type = redis_reply::kind::integer; break;
    case REDIS_REPLY_ARRAY: out.type = redis_reply::kind::array; break;
    default: out.type = redis_reply::kind::nil; break;
  }
  if (r.type == REDIS_REPLY_INTEGER) out.integer = r.integer;
  if (r.str != nullptr && r.type != REDIS_REPLY_ARRAY && r.type != REDIS_REPLY_INTEGER) out.text.assign(r.str, r.len);
  if (r.type == REDIS_REPLY_ARRAY) {
    out.elements.reserve(r.elements);
    for (std::size_t i = 0; i < r.elements; ++i) out.elements.push_back(copy_reply(*r.element[i]));
  }
  return out;
}

}  // namespace punch::detail
