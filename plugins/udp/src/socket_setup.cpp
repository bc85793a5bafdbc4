// The udp transport's sockets: open/bind with error mapping.
#include "socket_setup.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/v6_only.hpp>

#include <sys/socket.h>

#include <cerrno>

namespace punch::udp {
namespace {

// Punch codes where one fits, so callers compare the same codes for every transport.
error_code bind_error(const error_code& ec) {
  if (ec == boost::system::errc::address_in_use) return errc::address_in_use;
  if (ec == boost::system::errc::address_not_available) return errc::address_not_available;
  return ec;
}

}  // namespace

bool runs_on(const datagram_handler& handler, const asio::any_io_executor& socket_ex) {
  using io_executor = asio::io_context::executor_type;
  const auto handler_ex = asio::get_associated_executor(handler);
  const auto* mine = socket_ex.target<io_executor>();
  if (const auto* io = handler_ex.target<io_executor>()) return mine && *io == *mine;
  if (const auto* any = handler_ex.target<asio::any_io_executor>()) return *any == socket_ex;
  return false;
}

asio::ip::udp::socket open_socket(const asio::any_io_executor& ex, const endpoint& local,
                                  const socket_settings& settings, error_code& ec) {
  ec.clear();
  asio::ip::udp::socket socket{ex};
  socket.open(local.protocol(), ec);
  if (!ec && settings.reuse_port) {
    const int on = 1;
    if (::setsockopt(socket.native_handle(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)
      ec = error_code(errno, asio::error::get_system_category());
  }
  // The kernel caps buffer sizes at net.core.rmem_max / wmem_max without failing.
  if (!ec && settings.receive_buffer)
    socket.set_option(asio::socket_base::receive_buffer_size(static_cast<int>(settings.receive_buffer)), ec);
  if (!ec && settings.send_buffer)
    socket.set_option(asio::socket_base::send_buffer_size(static_cast<int>(settings.send_buffer)), ec);
  // "::" is dual-stack whatever net.ipv6.bindv6only says: one socket for both families.
  if (!ec && local.address().is_v6() && local.address().is_unspecified())
    socket.set_option(asio::ip::v6_only(false), ec);
  if (!ec) {
    socket.bind(local, ec);
    if (ec) ec = bind_error(ec);
  }
  if (ec) socket.close();
  return socket;
}

}  // namespace punch::udp
