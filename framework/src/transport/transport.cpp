// Out-of-line parts of the transport interface: the key functions of the plugin base classes,
// the default (one datagram at a time) batch operations, the throwing open(), and the
// default "no port mapping offered".
#include "punch/transport.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

#include <sstream>

namespace punch {

namespace {

// Runs `h` later, through the socket's executor, on the handler's associated one.
void post_completion(socket_impl& s, datagram_handler h, error_code ec, std::size_t n) {
  asio::post(s.get_executor(), asio::append(std::move(h), ec, n));
}

// Where a batch's handler runs and how it is cancelled. An inner handler given the same lets
// the plugin's single-datagram operation honour what the batch's caller asked for. Taken
// before the batch's handler moves into the inner one.
struct associations {
  asio::cancellation_slot slot;
  asio::any_completion_executor executor;

  associations(socket_impl& s, const datagram_handler& h)
      : slot(asio::get_associated_cancellation_slot(h)), executor(asio::get_associated_executor(h, s.get_executor())) {}

  template <typename Inner>
  datagram_handler bind(Inner inner) const {
    return datagram_handler(asio::bind_cancellation_slot(slot, asio::bind_executor(executor, std::move(inner))));
  }
};

// Errors after which a socket sends nothing more; any other send error concerns one datagram.
bool cannot_send(const error_code& ec) {
  return ec == asio::error::operation_aborted || ec == errc::socket_closed || ec == asio::error::bad_descriptor;
}

// The default batch send: one async_send_to after the other.
struct send_one_by_one {
  socket_impl* socket;
  std::span<const outgoing_datagram> datagrams;
  std::size_t next = 0, sent = 0;
  datagram_handler handler;

  static void start(send_one_by_one op) {
    socket_impl& s = *op.socket;
    const outgoing_datagram& d = op.datagrams[op.next];
    const associations as(s, op.handler);
    s.async_send_to(d.data, d.to, as.bind(std::move(op)));
  }
  void operator()(error_code ec, std::size_t) {
    if (cannot_send(ec) || !socket->is_open()) return std::move(handler)(ec ? ec : make_error_code(errc::socket_closed), sent);
    if (!ec) ++sent;
    // Inside a completion of the plugin: the handler may run at once.
    if (++next == datagrams.size()) return std::move(handler)(error_code{}, sent);
    start(std::move(*this));
  }
};

}  // namespace

socket_impl::~socket_impl() = default;

void socket_impl::async_receive_batch(std::span<received_datagram> slots, datagram_handler handler) {
  if (slots.empty()) return post_completion(*this, std::move(handler), {}, 0);
  received_datagram& first = slots.front();
  const associations as(*this, handler);
  async_receive_from(first.buffer, first.from, as.bind([&first, h = std::move(handler)](error_code ec, std::size_t n) mutable {
    first.size = ec ? 0 : n;
    std::move(h)(ec, ec ? 0 : 1);
  }));
}

void socket_impl::async_send_batch(std::span<const outgoing_datagram> datagrams, datagram_handler handler) {
  if (datagrams.empty()) return post_completion(*this, std::move(handler), {}, 0);
  send_one_by_one::start(send_one_by_one{this, datagrams, 0, 0, std::move(handler)});
}

transport::~transport() = default;

std::vector<asio::ip::address> transport::interface_addresses() {
  std::vector<asio::ip::address> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    asio::ip::address a;
    if (i->ifa_addr->sa_family == AF_INET) {
      sockaddr_in sin;
      std::memcpy(&sin, i->ifa_addr, sizeof sin);
      a = asio::ip::address_v4(ntohl(sin.sin_addr.s_addr));
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      sockaddr_in6 sin6;
      std::memcpy(&sin6, i->ifa_addr, sizeof sin6);
      asio::ip::address_v6::bytes_type b;
      std::memcpy(b.data(), &sin6.sin6_addr, b.size());
      a = asio::ip::address_v6(b);
    } else {
      continue;
    }
    // Reachable from elsewhere: not loopback, not link-local (fe80::/10 needs a scope, and
    // 169.254/16 is one link's), not multicast.
    if (a.is_loopback() || a.is_multicast()) continue;
    if (a.is_v6() && (a.to_v6().is_link_local() || a.to_v6().is_v4_mapped())) continue;
    if (a.is_v4() && (a.to_v4().to_uint() >> 16) == 0xA9FE) continue;
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  freeifaddrs(list);
  return out;
}

datagram_socket::~datagram_socket() {
  if (impl_) impl_->close();
}

datagram_socket transport::open(const endpoint& local) {
  error_code ec;
  datagram_socket s = open(local, ec);
  if (ec) {
    std::ostringstream what;
    what << "transport \"" << name() << "\" cannot open a socket on " << local;
    throw system_error(ec, what.str());
  }
  return s;
}

// Not offered: the session uses its own clients over real UDP.
bool transport::maps_ports(std::string_view) const { return false; }

void transport::async_map_port(const port_mapping_query&, port_mapping_handler handler) {
  asio::post(get_executor(), asio::append(std::move(handler), make_error_code(errc::port_mapping_unanswered),
                                          port_mapping_answer{}));
}

}  // namespace punch
