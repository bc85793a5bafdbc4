// The udp transport's socket: open/bind with error mapping, and operations handed to asio.
#include "udp_socket.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace punch::udp {
namespace {

// Punch codes where one fits, so callers compare the same codes for every transport.
error_code bind_error(const error_code& ec) {
  if (ec == boost::system::errc::address_in_use) return errc::address_in_use;
  if (ec == boost::system::errc::address_not_available) return errc::address_not_available;
  return ec;
}

// asio would report bad_descriptor; the transport contract promises socket_closed, posted.
void complete_closed(const asio::any_io_executor& ex, datagram_handler handler) {
  asio::post(ex, asio::append(std::move(handler), error_code{errc::socket_closed},
                              std::size_t{0}));
}

// True if the handler runs on the socket's own io_context executor (a coroutine or callback on
// the same io_context: the common case).
bool runs_on(const datagram_handler& handler, const asio::any_io_executor& socket_ex) {
  using io_executor = asio::io_context::executor_type;
  const auto handler_ex = asio::get_associated_executor(handler);
  const auto* mine = socket_ex.target<io_executor>();
  if (const auto* io = handler_ex.target<io_executor>()) return mine && *io == *mine;
  if (const auto* any = handler_ex.target<asio::any_io_executor>()) return *any == socket_ex;
  return false;
}

// Starts `op` with the handler. A handler on the socket's own executor is bound to that
// executor, so that asio counts the outstanding work on the io_context directly; otherwise
// asio wraps the handler's type-erased executor once more to track work on it, which
// allocates on every operation (the broker's hot path must not).
template <typename Op>
void start(asio::ip::udp::socket& socket, datagram_handler handler, Op&& op) {
  if (runs_on(handler, socket.get_executor()))
    op(asio::bind_executor(socket.get_executor(), std::move(handler)));
  else
    op(std::move(handler));
}

}  // namespace

std::unique_ptr<udp_socket> udp_socket::open(const asio::any_io_executor& ex,
                                             const endpoint& local, error_code& ec) {
  ec.clear();
  asio::ip::udp::socket socket{ex};
  socket.open(local.protocol(), ec);
  if (ec) return nullptr;
  socket.bind(local, ec);
  if (ec) {
    ec = bind_error(ec);
    return nullptr;
  }
  return std::make_unique<udp_socket>(std::move(socket));
}

endpoint udp_socket::local_endpoint() const {
  error_code ec;
  endpoint local = socket_.local_endpoint(ec);
  return ec ? endpoint{} : local;
}

void udp_socket::close() {
  // Closing a closed socket is not an error worth reporting; pending operations abort.
  error_code ignored;
  socket_.close(ignored);
}

void udp_socket::async_send_to(asio::const_buffer data, const endpoint& to,
                               datagram_handler handler) {
  if (!socket_.is_open()) return complete_closed(socket_.get_executor(), std::move(handler));
  start(socket_, std::move(handler), [&](auto&& h) { socket_.async_send_to(data, to, std::move(h)); });
}

void udp_socket::async_receive_from(asio::mutable_buffer data, endpoint& from,
                                    datagram_handler handler) {
  if (!socket_.is_open()) return complete_closed(socket_.get_executor(), std::move(handler));
  start(socket_, std::move(handler), [&](auto&& h) { socket_.async_receive_from(data, from, std::move(h)); });
}

}  // namespace punch::udp
