// punch built without hiredis (PUNCH_REDIS=OFF, or AUTO without libhiredis-dev): the URL
// parser works, a Redis cluster cannot be made.
#include "punch/redis.hpp"

namespace punch {

bool redis_supported() noexcept { return false; }

std::unique_ptr<cluster> make_redis_cluster(asio::any_io_executor, const redis_address&, redis_cluster_options) {
  throw system_error(errc::cluster_unavailable, "punch was built without Redis support (PUNCH_REDIS, hiredis)");
}

}  // namespace punch
