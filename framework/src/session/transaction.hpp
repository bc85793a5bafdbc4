// A request to the broker (or the relay) waiting for its response: what the receive loop
// hands an answer to (private header).
#pragma once

#include "punch/transport.hpp"
#include "session/one_shot_event.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <cstddef>
#include <vector>

namespace punch::detail {

// A broker request waiting for its response.
struct transaction {
  transaction(const asio::any_io_executor& ex, punch::clock& time, const endpoint& server) : done(ex, time), to(server) {}
  detail::one_shot_event done;
  endpoint to;  // the broker or the relay: only it may answer
  bool abandoned = false;  // the session moved to another broker (failover) while it waited
  std::vector<std::byte> response;
};

// Lists a transaction in the session's table of requests (by transaction id) for as long as it
// lives: the receive loop finds it there and hands it its answer.
template <typename Table, typename Id>
class listed_transaction {
public:
  listed_transaction(Table& table, const Id& id, transaction& tx) : table_(table), id_(id) { table_.emplace(id, &tx); }
  ~listed_transaction() { table_.erase(id_); }
  listed_transaction(const listed_transaction&) = delete;
  listed_transaction& operator=(const listed_transaction&) = delete;

private:
  Table& table_;
  Id id_;
};

}  // namespace punch::detail
