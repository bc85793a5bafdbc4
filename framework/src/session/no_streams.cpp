// punch built without usrsctp (PUNCH_STREAMS=OFF, or AUTO without libusrsctp-dev): a
// connection has no streams; opening or accepting one fails with errc::streams_unavailable,
// and the peer's sctp frames are dropped and counted.
#include "session/association.hpp"

#include "session/connection_state.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/dispatch.hpp>

namespace punch {

using namespace detail;

namespace detail {
void sctp_input(connection_state& c, std::span<const std::byte>) { ++c.session->stats.stream_packets_dropped; }
void end_streams(connection_state&) {}
asio::awaitable<void> shut_down_streams(std::shared_ptr<connection_state>) { co_return; }
}  // namespace detail

namespace {
template <typename Handler, typename... Args>
void unavailable(Handler h, Args... args) {
  auto ex = asio::get_associated_executor(h);
  asio::dispatch(ex, asio::append(std::move(h), make_error_code(errc::streams_unavailable), args...));
}
}  // namespace

bool streams_available() noexcept { return false; }

// No stream_state is ever made: the handles are all empty.
stream::executor_type stream::get_executor() const { return {}; }
std::uint16_t stream::id() const { return 0; }
std::size_t stream::buffered() const { return 0; }
stream_options stream::options() const { return {}; }
bool stream::is_open() const { return false; }
void stream::async_read_some_(std::shared_ptr<stream_state>, asio::mutable_buffer, completion_handler<std::size_t> h) {
  unavailable(std::move(h), std::size_t{0});
}
void stream::async_write_some_(std::shared_ptr<stream_state>, asio::const_buffer, completion_handler<std::size_t> h) {
  unavailable(std::move(h), std::size_t{0});
}
void stream::async_send_message_(std::shared_ptr<stream_state>, asio::const_buffer, completion_handler<std::size_t> h) {
  unavailable(std::move(h), std::size_t{0});
}
void stream::async_receive_message_(std::shared_ptr<stream_state>, asio::mutable_buffer,
                                    completion_handler<std::size_t> h) {
  unavailable(std::move(h), std::size_t{0});
}
void stream::async_close_(std::shared_ptr<stream_state>, completion_handler<void> h) { unavailable(std::move(h)); }
void connection::async_open_stream_(std::shared_ptr<connection_state>, const stream_options&,
                                    completion_handler<stream> h) {
  unavailable(std::move(h), stream{});
}
void connection::async_accept_stream_(std::shared_ptr<connection_state>, completion_handler<stream> h) {
  unavailable(std::move(h), stream{});
}

}  // namespace punch
