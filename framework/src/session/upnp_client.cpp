// The UPnP IGD client through miniupnpc. Its calls block (SSDP discovery, then SOAP over
// HTTP), so they run on a thread of their own, one per request, which hands its result back
// through a socket pair that the session's executor waits on: the one place the framework
// starts a thread, because miniupnpc has no asynchronous interface. The thread is bounded by
// miniupnpc's timeouts (discovery: the caller's timeout; each HTTP exchange: miniupnpc's own
// few seconds) and touches nothing of the session's, so a session may close meanwhile.
#include "session/port_mapper.hpp"

#if !defined(PUNCH_HAS_MINIUPNPC)
namespace punch::detail {
// Built without miniupnpc: this protocol is not asked.
asio::awaitable<outcome<port_grant>> upnp_map(const mapping_request&, abort_hook&) {
  co_return fail(errc::port_mapping_unanswered, "miniupnpc is not built in");
}
}  // namespace punch::detail
#else

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>

#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <thread>

namespace punch::detail {

namespace {

outcome<port_grant> upnp_blocking(const mapping_request& request) {
  const std::string what = "UPnP IGD mapping of port " + std::to_string(request.internal_port);
  int error = 0;
  const int delay = static_cast<int>(std::max<std::chrono::milliseconds::rep>(request.timeout.count(), 100));
  UPNPDev* devices = upnpDiscover(delay, nullptr, nullptr, 0, request.gateway.is_v6() ? 1 : 0, 2, &error);
  if (!devices)
    return fail(errc::port_mapping_unanswered, what + ": no IGD answered discovery");
  UPNPUrls urls{};
  IGDdatas data{};
  char lan[64] = {};
  const int igd = UPNP_GetValidIGD(devices, &urls, &data, lan, sizeof lan);
  freeUPNPDevlist(devices);
  if (igd != 1) {
    if (igd != 0) FreeUPNPUrls(&urls);
    return fail(errc::port_mapping_unanswered, what + ": no connected IGD");
  }
  struct free_urls {
    UPNPUrls& u;
    ~free_urls() { FreeUPNPUrls(&u); }
  } free_at_end{urls};
  const std::string internal = std::to_string(request.internal_port);
  const std::string external =
      std::to_string(request.suggested_external_port ? request.suggested_external_port : request.internal_port);
  if (request.lifetime.count() == 0) {
    UPNP_DeletePortMapping(urls.controlURL, data.first.servicetype, external.c_str(), "UDP", nullptr);
    return port_grant{{}, std::chrono::seconds(0), std::nullopt, "upnp"};
  }
  char address[40] = {};
  if (UPNP_GetExternalIPAddress(urls.controlURL, data.first.servicetype, address) != UPNPCOMMAND_SUCCESS)
    return fail(errc::port_mapping_refused, what + ": the IGD did not tell its external address");
  const std::string client = request.client.to_string();
  const std::string lease = std::to_string(request.lifetime.count());
  const int r = UPNP_AddPortMapping(urls.controlURL, data.first.servicetype, external.c_str(), internal.c_str(),
                                    client.c_str(), "punch", "UDP", nullptr, lease.c_str());
  if (r != UPNPCOMMAND_SUCCESS) return fail(errc::port_mapping_refused, what + ": " + strupnperror(r));
  error_code ec;
  const auto ext = asio::ip::make_address(address, ec);
  if (ec) return fail(errc::port_mapping_refused, what + ": the IGD's external address is \"" + address + "\"");
  return port_grant{endpoint(ext, static_cast<std::uint16_t>(std::stoi(external))), request.lifetime, std::nullopt, "upnp"};
}

}  // namespace

asio::awaitable<outcome<port_grant>> upnp_map(const mapping_request& request, abort_hook& abort) {
  // The thread never touches the executor: it leaves its result here and wakes us through a
  // socket pair, which asio waits on (cancellable, so that a closing session does not wait for
  // miniupnpc; the thread then finishes on its own and its result is dropped).
  struct mailbox {
    std::mutex m;
    std::optional<outcome<port_grant>> result;
    int fds[2] = {-1, -1};
    ~mailbox() {
      for (int fd : fds)
        if (fd >= 0) ::close(fd);
    }
  };
  auto box = std::make_shared<mailbox>();
  if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, box->fds) != 0)
    co_return fail(errc::port_mapping_unanswered, "UPnP IGD: cannot make a socket pair");
  std::thread([box, request] {
    auto r = upnp_blocking(request);
    {
      std::lock_guard lock(box->m);
      box->result.emplace(std::move(r));
    }
    const char wake = 1;
    (void)::send(box->fds[1], &wake, 1, MSG_NOSIGNAL);
  }).detach();
  asio::posix::stream_descriptor wake(co_await asio::this_coro::executor, ::dup(box->fds[0]));
  abort_guard on_abort(abort, [&wake] { wake.cancel(); });
  auto [ec] = co_await wake.async_wait(asio::posix::descriptor_base::wait_read, asio::as_tuple(asio::use_awaitable));
  if (ec) co_return fail(ec, "UPnP IGD: " + ec.message());
  std::lock_guard lock(box->m);
  if (!box->result) co_return fail(errc::port_mapping_unanswered, "UPnP IGD: no result");
  co_return std::move(*box->result);
}

}  // namespace punch::detail
#endif
