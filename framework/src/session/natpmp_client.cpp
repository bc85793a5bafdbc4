// The NAT-PMP client (RFC 6886) through libnatpmp: its socket is the operating system's, so
// this runs over real UDP only. libnatpmp keeps its own retransmission schedule (250 ms,
// doubling); we wait on its socket with asio and cut the exchange at the caller's timeout.
#include "session/port_mapper.hpp"

#if !defined(PUNCH_HAS_NATPMP)
namespace punch::detail {
// Built without libnatpmp: this protocol is not asked.
asio::awaitable<outcome<port_grant>> natpmp_map(const mapping_request&, abort_hook&) {
  co_return fail(errc::port_mapping_unanswered, "libnatpmp is not built in");
}
}  // namespace punch::detail
#else

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <arpa/inet.h>
#define ENABLE_STRNATPMPERR  // the error names, which libnatpmp builds in
#include <natpmp.h>

namespace punch::detail {

namespace {

using namespace boost::asio::experimental::awaitable_operators;

// One request's answer: readnatpmpresponseorretry until it stops saying "try again",
// waking on the socket or on libnatpmp's retransmission time, until `deadline`.
asio::awaitable<int> natpmp_answer(natpmp_t& n, natpmpresp_t& out, asio::posix::stream_descriptor& fd,
                                   std::chrono::steady_clock::time_point deadline, const bool& aborted) {
  auto ex = co_await asio::this_coro::executor;
  while (!aborted) {
    const int r = readnatpmpresponseorretry(&n, &out);
    if (r != NATPMP_TRYAGAIN) co_return r;
    timeval tv{};
    getnatpmprequesttimeout(&n, &tv);
    const auto retry = std::chrono::steady_clock::now() + std::chrono::seconds(tv.tv_sec) +
                       std::chrono::microseconds(tv.tv_usec);
    if (std::chrono::steady_clock::now() >= deadline) co_return NATPMP_TRYAGAIN;
    asio::steady_timer t(ex, std::min(retry, deadline));
    co_await (fd.async_wait(asio::posix::descriptor_base::wait_read, asio::as_tuple(asio::use_awaitable)) ||
              t.async_wait(asio::as_tuple(asio::use_awaitable)));
  }
  co_return NATPMP_TRYAGAIN;
}

}  // namespace

asio::awaitable<outcome<port_grant>> natpmp_map(const mapping_request& request, abort_hook& abort) {
  const std::string what = "NAT-PMP mapping of port " + std::to_string(request.internal_port) + " at " +
                           request.gateway.to_string();
  if (!request.gateway.is_v4()) co_return fail(errc::port_mapping_unanswered, what + ": NAT-PMP is IPv4 only");
  natpmp_t n{};
  in_addr_t gw = htonl(request.gateway.to_v4().to_uint());
  if (initnatpmp(&n, 1, gw) < 0) co_return fail(errc::port_mapping_unanswered, what + ": cannot open a socket");
  auto ex = co_await asio::this_coro::executor;
  asio::posix::stream_descriptor fd(ex, n.s);
  struct closer {
    natpmp_t& n;
    asio::posix::stream_descriptor& fd;
    ~closer() {
      fd.release();  // libnatpmp owns the socket
      closenatpmp(&n);
    }
  } close_at_end{n, fd};
  const auto deadline = std::chrono::steady_clock::now() + request.timeout;
  bool aborted = false;
  abort_guard on_abort(abort, [&fd, &aborted] {
    aborted = true;
    fd.cancel();
  });
  natpmpresp_t resp{};
  // The external address first (RFC 6886 §3.2): a mapping answer carries only the port.
  sendpublicaddressrequest(&n);
  int r = co_await natpmp_answer(n, resp, fd, deadline, aborted);
  if (r == NATPMP_TRYAGAIN) co_return fail(errc::port_mapping_unanswered, what + ": no answer");
  if (r < 0) co_return fail(errc::port_mapping_refused, what + ": " + strnatpmperr(r));
  const asio::ip::address external = asio::ip::address_v4(ntohl(resp.pnu.publicaddress.addr.s_addr));
  sendnewportmappingrequest(&n, NATPMP_PROTOCOL_UDP, request.internal_port, request.suggested_external_port,
                            static_cast<std::uint32_t>(request.lifetime.count()));
  r = co_await natpmp_answer(n, resp, fd, deadline, aborted);
  if (r == NATPMP_TRYAGAIN) co_return fail(errc::port_mapping_unanswered, what + ": no answer to the mapping");
  if (r < 0) co_return fail(errc::port_mapping_refused, what + ": " + strnatpmperr(r));
  port_grant g;
  g.external = endpoint(external, resp.pnu.newportmapping.mappedpublicport);
  g.lifetime = std::chrono::seconds(resp.pnu.newportmapping.lifetime);
  g.epoch = std::chrono::seconds(resp.epoch);
  g.protocol = "natpmp";
  co_return g;
}

}  // namespace punch::detail
#endif
