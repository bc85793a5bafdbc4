// NAT-PMP and UPnP IGD asked through the transport (transport::async_map_port), when the
// transport reaches its gateways its own way (the simulated network). The answer is turned
// into a port_grant as the libnatpmp and miniupnpc clients do; a UPnP router that keeps only
// permanent leases (725 OnlyPermanentLeasesSupported) is asked again for a permanent one.
#include "session/port_mapper.hpp"

#include "session/one_shot_event.hpp"

#include <boost/asio/bind_executor.hpp>

namespace punch::detail {

namespace {

// What the transport's handler leaves for the waiting coroutine; shared, since the handler may
// run after the coroutine gave up (timeout, abort).
struct mapping_exchange {
  mapping_exchange(const asio::any_io_executor& ex, punch::clock& time) : answered(ex, time) {}
  one_shot_event answered;
  bool done = false;
  error_code ec;
  port_mapping_answer answer;
};

// The protocol's own name for a refusal, so that the failure's message says what the router meant.
std::string result_name(std::string_view protocol, int result) {
  if (protocol == "natpmp") {
    switch (result) {
      case 1: return "unsupported version";
      case 2: return "not authorized";
      case 3: return "network failure";
      case 4: return "out of resources";
      case 5: return "unsupported opcode";
    }
  } else {
    switch (result) {
      case 606: return "action not authorized";
      case 718: return "ConflictInMappingEntry";
      case 724: return "SamePortValuesRequired";
      case 725: return "OnlyPermanentLeasesSupported";
    }
  }
  return "result " + std::to_string(result);
}

// One query and its answer; `result` receives the protocol's result code of a refusal.
asio::awaitable<outcome<port_mapping_answer>> exchange(transport& t, punch::clock& time, const port_mapping_query& q,
                                                       const std::string& what, abort_hook& abort, int& result) {
  result = 0;
  auto x = std::make_shared<mapping_exchange>(t.get_executor(), time);
  bool aborted = false;
  abort_guard on_abort(abort, [&x, &aborted] {
    aborted = true;
    x->answered.fire();
  });
  t.async_map_port(q, asio::bind_executor(t.get_executor(), [x](error_code ec, port_mapping_answer a) {
    x->done = true;
    x->ec = ec;
    x->answer = std::move(a);
    x->answered.fire();
  }));
  co_await x->answered.wait_until(time.now() + q.timeout);
  if (aborted) co_return fail(asio::error::operation_aborted, what + ": the session closed");
  if (!x->done || x->ec == errc::port_mapping_unanswered) co_return fail(errc::port_mapping_unanswered, what + ": no answer");
  if (x->ec && x->ec != errc::port_mapping_refused) co_return fail(x->ec, what + ": " + x->ec.message());
  result = x->answer.result;
  if (x->ec || x->answer.result != 0)
    co_return fail(errc::port_mapping_refused, what + ": " + result_name(q.protocol, x->answer.result));
  co_return x->answer;
}

}  // namespace

asio::awaitable<outcome<port_grant>> transport_map(transport& t, punch::clock& time, const std::string& protocol,
                                                   const mapping_request& request, abort_hook& abort) {
  const std::string what = (protocol == "natpmp" ? "NAT-PMP mapping of port " : "UPnP IGD mapping of port ") +
                           std::to_string(request.internal_port) + " at " + request.gateway.to_string();
  port_mapping_query q{protocol, request.gateway, request.client, request.internal_port,
                       request.suggested_external_port, request.lifetime, false, request.timeout};
  // The mapper's lifetime 0 deletes; UPnP deletes by its own action, its lease 0 being "permanent".
  if (protocol == "upnp" && request.lifetime.count() == 0) q.remove = true;
  constexpr int only_permanent_leases = 725;
  int result = 0;
  auto a = co_await exchange(t, time, q, what, abort, result);
  if (!a && protocol == "upnp" && !q.remove && result == only_permanent_leases) {
    q.lifetime = std::chrono::seconds(0);
    a = co_await exchange(t, time, q, what, abort, result);
  }
  if (!a) co_return std::move(a).error();
  co_return port_grant{a->external, a->lifetime, a->epoch, protocol};
}

}  // namespace punch::detail
