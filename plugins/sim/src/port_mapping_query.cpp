// The sim transport's port mapping (transport::async_map_port): the query goes to the
// port_mapping_service at the gateway's address in the asking host's realm, and its answer
// comes back after the host link's round trip; unanswered at the query's timeout when no
// service answers there (none, stopped, or the protocol not offered).
#include "punch/plugins/sim/network.hpp"
#include "punch/plugins/sim/port_mapping_service.hpp"

#include "socket.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/post.hpp>

namespace punch::sim::detail {

void host_transport::async_map_port(const port_mapping_query& query, port_mapping_handler handler) {
  auto& net = host_.network();
  // The host's address (and realm) of the gateway's family: a dual-stack host has two.
  auto where = host_.realm();
  auto asker = host_.address();
  if (host_.second_address() && host_.second_address()->address.is_v4() == query.gateway.is_v4()) {
    where = host_.second_address()->realm;
    asker = host_.second_address()->address;
  }
  std::optional<port_mapping_answer> answer;
  if (auto s = net.mapping_services_.find({where.id, query.gateway}); s != net.mapping_services_.end())
    answer = s->second->answer(query, asker);
  error_code ec = make_error_code(errc::port_mapping_unanswered);
  clock::duration after = query.timeout;
  if (answer) {
    ec = answer->result == 0 ? error_code{} : make_error_code(errc::port_mapping_refused);
    after = 2 * host_.link().latency;
  } else {
    answer.emplace();
  }
  // Decided now, delivered later: the timer and the handler outlive the service and the host.
  auto ex = net.get_executor();
  auto t = std::make_shared<punch::timer>(ex, net.clock(), after);
  t->async_wait([t, ex, h = std::move(handler), ec, a = std::move(*answer)](error_code) mutable {
    asio::post(ex, asio::append(std::move(h), ec, std::move(a)));
  });
}

}  // namespace punch::sim::detail
