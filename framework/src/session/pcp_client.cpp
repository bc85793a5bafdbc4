// The PCP client (RFC 6887): one MAP request to the gateway's port 5351 over a socket of the
// session's transport, retransmitted on a shortened §8.1.1 schedule until an answer whose
// nonce is ours arrives or the timeout passes.
#include "session/port_mapper.hpp"

#include "punch/wire/pcp.hpp"
#include "session/one_shot_event.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace punch::detail {

namespace {

// RFC 6887 §8.1.1 starts at 3 s (IRT) and never gives up (MRC 0); a session cannot wait that
// long beside its registration, so: 250 ms, doubling, cut at the caller's timeout.
constexpr std::chrono::milliseconds pcp_first_retransmission{250};

// The answer, shared by the pcp_exchange and its receive loop (which may outlive it until the
// socket's close aborts its receive).
struct pcp_exchange {
  pcp_exchange(datagram_socket s, const asio::any_io_executor& ex, punch::clock& time)
      : socket(std::move(s)), answered(ex, time) {}
  datagram_socket socket;
  one_shot_event answered;
  std::optional<pcp::response> answer;
  error_code decode_error;
  std::array<std::byte, pcp::max_message_size> rx{};
  endpoint from;
};

asio::awaitable<void> receive_pcp_answer(std::shared_ptr<pcp_exchange> x, endpoint gateway, pcp::nonce nonce) {
  while (x->socket.is_open() && !x->answered.fired()) {
    auto [ec, n] = co_await x->socket.async_receive_from(asio::buffer(x->rx), x->from, asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !x->socket.is_open()) co_return;
    // RFC 6887 §8.3: only the server's answers count; ICMP errors surface as receive errors.
    if (ec || unmapped(x->from) != gateway) continue;
    error_code dec;
    auto r = pcp::decode_response(std::span<const std::byte>(x->rx.data(), n), dec);
    if (!r) {
      // A NAT-PMP gateway answers version 0 (RFC 6887 §9): no PCP here, fall back at once.
      if (dec == errc::pcp_unsupported_version) {
        x->decode_error = dec;
        x->answered.fire();
      }
      continue;
    }
    // §11.3: a MAP answer is ours only when it echoes our nonce.
    if (r->opcode != pcp::opcode::map || (r->map && r->map->nonce != nonce)) continue;
    x->answer = std::move(r);
    x->answered.fire();
  }
}

}  // namespace

asio::awaitable<outcome<port_grant>> pcp_map(transport& t, punch::clock& time, const mapping_request& request,
                                             const std::array<std::byte, 12>& nonce, abort_hook& abort) {
  const endpoint gateway(request.gateway, pcp::server_port);
  const std::string what = "PCP MAP of port " + std::to_string(request.internal_port) + " at " +
                           request.gateway.to_string();
  pcp::map_request m;
  m.lifetime = request.lifetime;
  m.client = request.client;
  m.nonce = nonce;
  m.internal_port = request.internal_port;
  m.suggested_external_port = request.suggested_external_port;
  m.suggested_external_address = request.gateway.is_v4() ? asio::ip::address(asio::ip::address_v4::any())
                                                          : asio::ip::address(asio::ip::address_v6::any());
  std::array<std::byte, pcp::max_message_size> buf;
  error_code ec;
  const auto bytes = pcp::encode(m, buf, ec);
  if (ec) co_return fail(ec, what + ": " + ec.message());
  // From our address toward the gateway: §8.3 compares the source with the client address.
  datagram_socket s = t.open({request.client, 0}, ec);
  if (ec) s = t.open({request.client.is_v4() ? asio::ip::address(asio::ip::address_v4::any())
                                             : asio::ip::address(asio::ip::address_v6::any()), 0}, ec);
  if (ec) co_return fail(ec, what + ": cannot open a socket: " + ec.message());
  auto x = std::make_shared<pcp_exchange>(std::move(s), t.get_executor(), time);
  asio::co_spawn(t.get_executor(), receive_pcp_answer(x, gateway, nonce), asio::detached);
  struct closer {
    pcp_exchange& x;
    ~closer() { x.socket.close(); }
  } close_at_end{*x};
  bool aborted = false;
  abort_guard on_abort(abort, [&x, &aborted] {
    aborted = true;
    x->answered.fire();
  });

  const auto deadline = time.now() + request.timeout;
  auto gap = std::chrono::duration_cast<clock::duration>(pcp_first_retransmission);
  while (!x->answered.fired() && time.now() < deadline) {
    co_await x->socket.async_send_to(asio::buffer(bytes.data(), bytes.size()), gateway,
                                     asio::as_tuple(asio::use_awaitable));
    co_await x->answered.wait_until(std::min(time.now() + gap, deadline));
    gap *= 2;
  }
  if (aborted) co_return fail(asio::error::operation_aborted, what + ": the session closed");
  if (x->decode_error) co_return fail(x->decode_error, what + ": " + x->decode_error.message());
  if (!x->answer) co_return fail(errc::port_mapping_unanswered, what + ": no answer");
  const auto& r = *x->answer;
  if (r.result != pcp::result_code::success || !r.map)
    co_return fail(errc::port_mapping_refused, what + ": " + std::string(pcp::name(r.result)));
  port_grant g;
  g.external = endpoint(r.map->external_address, r.map->external_port);
  g.lifetime = r.lifetime;
  g.epoch = r.epoch;
  g.protocol = "pcp";
  co_return g;
}

}  // namespace punch::detail
