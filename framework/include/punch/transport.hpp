// The transport interface: datagram sockets that a transport plugin opens.
//
// A datagram_socket is a value type around a plugin's socket_impl. Its asynchronous
// operations accept any asio completion token (use_awaitable, as_tuple, deferred, a
// callback, ...): the token is turned into an asio::any_completion_handler and handed to the
// plugin, so plugins implement one virtual per operation and users keep asio's full model
// (see asio's cpp20/type_erasure example).
#pragma once

#include "punch/export.hpp"

#include "punch/error.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/udp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace punch {

namespace asio = boost::asio;

// Endpoints are UDP endpoints everywhere, the simulated network included.
using endpoint = asio::ip::udp::endpoint;

// Completion signature of every datagram operation: error and byte count.
using datagram_signature = void(error_code, std::size_t);
// Boost 1.81: move-construct or swap() a datagram_handler, never move-assign it; that
// operator= recurses until the stack overflows (fixed in Boost 1.82). std::list and std::deque
// push/pop are safe; std::vector::erase and std::optional assignment are not.
using datagram_handler = asio::any_completion_handler<datagram_signature>;

// One slot of a batch receive: the caller's buffer; the operation fills `from` and `size`.
struct PUNCH_EXPORT received_datagram {
  asio::mutable_buffer buffer;
  endpoint from;
  std::size_t size = 0;  // bytes received (a longer datagram is truncated to the buffer)
};

// One datagram of a batch send.
struct PUNCH_EXPORT outgoing_datagram {
  asio::const_buffer data;
  endpoint to;
};

// What a plugin implements. Handlers must not be invoked from inside the initiating call
// (post them, honouring their associated executor), receive operations must honour the
// handler's cancellation slot (terminal cancellation → asio::error::operation_aborted), and
// an operation started on a closed socket completes with errc::socket_closed.
class PUNCH_EXPORT socket_impl {
public:
  // Out of line (transport.cpp): the vtable and type_info live once, in libpunch, and are
  // shared with every plugin shared object.
  virtual ~socket_impl();

  virtual asio::any_io_executor get_executor() = 0;
  virtual endpoint local_endpoint() const = 0;
  virtual bool is_open() const = 0;
  // Closes the socket; pending operations complete with asio::error::operation_aborted.
  virtual void close() = 0;

  virtual void async_send_to(asio::const_buffer data, const endpoint& to,
                             datagram_handler handler) = 0;
  // `from` must stay valid until the handler runs.
  virtual void async_receive_from(asio::mutable_buffer data, endpoint& from,
                                  datagram_handler handler) = 0;

  // Batches, for servers that loop on receive. Optional: the defaults (transport.cpp) do one
  // datagram at a time with the two operations above; a plugin overrides them where the
  // system has a cheaper way (recvmmsg/sendmmsg). `slots` and `datagrams` must stay valid
  // until the handler runs.
  //
  // Receives at least one and at most slots.size() datagrams into slots[0, n), in order of
  // arrival, and completes with n (an error completes with 0). An empty span completes with 0.
  virtual void async_receive_batch(std::span<received_datagram> slots, datagram_handler handler);
  // Sends the datagrams in order and completes with the number the network took. A datagram
  // refused on its own (ICMP feedback reported on this send, an unreachable address) is
  // skipped, as UDP may lose it anyway; the batch fails only when the socket cannot send at
  // all: closed (errc::socket_closed) or cancelled (asio::error::operation_aborted).
  virtual void async_send_batch(std::span<const outgoing_datagram> datagrams, datagram_handler handler);
};

// A datagram socket opened by a transport. Movable, not copyable; closing happens on
// destruction too. A default-constructed or moved-from socket may only be closed, destroyed,
// assigned to or asked is_open(); every other member needs a socket from transport::open.
class PUNCH_EXPORT datagram_socket {
public:
  using executor_type = asio::any_io_executor;

  datagram_socket() = default;
  explicit datagram_socket(std::unique_ptr<socket_impl> impl) : impl_(std::move(impl)) {}
  datagram_socket(datagram_socket&&) noexcept = default;
  datagram_socket& operator=(datagram_socket&&) noexcept = default;
  ~datagram_socket();

  executor_type get_executor() { return impl_->get_executor(); }
  endpoint local_endpoint() const { return impl_->local_endpoint(); }
  bool is_open() const { return impl_ && impl_->is_open(); }
  void close() {
    if (impl_) impl_->close();
  }

  // Sends one datagram. Completes with the number of bytes sent.
  template <typename CompletionToken>
  auto async_send_to(asio::const_buffer data, const endpoint& to, CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, datagram_signature>(
        [](auto handler, socket_impl* impl, asio::const_buffer d, endpoint e) {
          impl->async_send_to(d, e, datagram_handler(std::move(handler)));
        },
        token, impl_.get(), data, to);
  }

  // Receives one datagram into `data`; `from` receives the sender's endpoint.
  // A datagram larger than the buffer is truncated (as with UDP).
  template <typename CompletionToken>
  auto async_receive_from(asio::mutable_buffer data, endpoint& from, CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, datagram_signature>(
        [](auto handler, socket_impl* impl, asio::mutable_buffer d, endpoint* f) {
          impl->async_receive_from(d, *f, datagram_handler(std::move(handler)));
        },
        token, impl_.get(), data, &from);
  }

  // Receives 1 to slots.size() datagrams; completes with how many (see socket_impl).
  template <typename CompletionToken>
  auto async_receive_batch(std::span<received_datagram> slots, CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, datagram_signature>(
        [](auto handler, socket_impl* impl, std::span<received_datagram> s) {
          impl->async_receive_batch(s, datagram_handler(std::move(handler)));
        },
        token, impl_.get(), slots);
  }

  // Sends the datagrams in order; completes with how many the network took (see socket_impl).
  template <typename CompletionToken>
  auto async_send_batch(std::span<const outgoing_datagram> datagrams, CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, datagram_signature>(
        [](auto handler, socket_impl* impl, std::span<const outgoing_datagram> d) {
          impl->async_send_batch(d, datagram_handler(std::move(handler)));
        },
        token, impl_.get(), datagrams);
  }

  // The plugin's implementation, for plugin-specific extensions.
  socket_impl* impl() noexcept { return impl_.get(); }

private:
  std::unique_ptr<socket_impl> impl_;
};

// A dual-stack socket (bound to "::") may report an IPv4 peer as ::ffff:a.b.c.d; this is its
// IPv4 form, in which punch stores, compares and prints addresses. Sockets take either form.
inline endpoint unmapped(const endpoint& ep) {
  const auto a = ep.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return {asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()), ep.port()};
  return ep;
}

// A port mapping asked of a gateway through a transport (transport::async_map_port), for the
// protocols whose real clients use the operating system's sockets: "natpmp" (RFC 6886) and
// "upnp" (UPnP IGD's AddPortMapping / DeletePortMapping).
struct PUNCH_EXPORT port_mapping_query {
  std::string protocol;                       // "natpmp" or "upnp"
  asio::ip::address gateway;                  // the router asked
  asio::ip::address client;                   // our address as the gateway sees it
  std::uint16_t internal_port = 0;            // our socket's port
  std::uint16_t suggested_external_port = 0;  // 0: none (upnp: then the internal port)
  std::chrono::seconds lifetime{0};           // natpmp: 0 deletes; upnp: 0 asks for a permanent lease
  bool remove = false;                        // upnp: DeletePortMapping of suggested_external_port
  std::chrono::milliseconds timeout{0};       // unanswered after this
};

// What the gateway answered. `result` is the protocol's own code: NAT-PMP's result code
// (RFC 6886 §3.5: 2 not authorized, 3 network failure, 4 out of resources), UPnP IGD's error
// code (606 not authorized, 718 ConflictInMappingEntry, 725 OnlyPermanentLeasesSupported).
struct PUNCH_EXPORT port_mapping_answer {
  int result = 0;                              // 0: granted
  endpoint external;                           // where the outside reaches our socket
  std::chrono::seconds lifetime{0};            // granted; upnp: 0 is a permanent lease
  std::optional<std::chrono::seconds> epoch;   // natpmp: seconds since the gateway's state began; upnp: none
};

// errc::port_mapping_unanswered (no answer in the query's timeout: the gateway does not offer
// the protocol), errc::port_mapping_refused (an answer whose `result` is not 0), or success.
using port_mapping_signature = void(error_code, port_mapping_answer);
using port_mapping_handler = asio::any_completion_handler<port_mapping_signature>;

// A transport opens datagram sockets. One transport object per io_context (executor).
class PUNCH_EXPORT transport {
public:
  virtual ~transport();  // out of line, like ~socket_impl

  // The registry name ("udp", "sim", ...).
  virtual std::string name() const = 0;
  virtual asio::any_io_executor get_executor() = 0;

  // Opens a socket bound to `local`; port 0 picks an ephemeral port, an unspecified
  // address (0.0.0.0 / ::) picks the transport's default.
  virtual datagram_socket open(const endpoint& local, error_code& ec) = 0;

  // Throwing form: the system_error's message names the transport and the endpoint.
  datagram_socket open(const endpoint& local);

  // The addresses this machine's sockets can be reached at directly, for host candidates when
  // a socket is bound to the unspecified address: both families, without loopback,
  // link-local or multicast addresses. The default asks the operating system (getifaddrs);
  // a simulated transport answers with its host's addresses.
  virtual std::vector<asio::ip::address> interface_addresses();

  // Port mapping over this transport's own network. Optional: a transport whose gateways are
  // not reached through the operating system's sockets (a simulated network) answers
  // `protocol` ("natpmp", "upnp") itself and returns true; the default returns false, and the
  // session then uses its own clients over real UDP (libnatpmp, miniupnpc) and no others.
  virtual bool maps_ports(std::string_view protocol) const;
  // Asks query.gateway, completing as port_mapping_signature says, never inside this call.
  // The default completes with errc::port_mapping_unanswered.
  virtual void async_map_port(const port_mapping_query& query, port_mapping_handler handler);
};

}  // namespace punch
