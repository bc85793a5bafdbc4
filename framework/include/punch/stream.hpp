// A reliable, ordered byte stream inside a connection (docs/streams.md): SCTP (usrsctp) carried
// in the connection's encrypted frames. Opened with connection::open_stream() on one side and
// connection::accept_stream() on the other; many per connection.
//
// It models asio's AsyncReadStream and AsyncWriteStream, so asio's algorithms work on it:
//   punch::stream s = co_await c.open_stream();
//   co_await asio::async_write(s, asio::buffer(text), asio::use_awaitable);
//   std::size_t n = co_await asio::async_read(s, asio::buffer(reply), asio::use_awaitable);
//   co_await s.close();   // graceful: completes once the peer acknowledged every byte
#pragma once

#include "punch/export.hpp"

#include "punch/async.hpp"
#include "punch/stream_options.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace punch {

namespace detail {
struct stream_state;  // private: framework/src/session/
}

// Whether this libpunch has streams: false when it was built without usrsctp (PUNCH_STREAMS),
// where open_stream and accept_stream fail with errc::streams_unavailable. An app can refuse a
// stream option at start-up instead of after connecting.
PUNCH_EXPORT bool streams_available() noexcept;

// A message stream (stream_options, docs/streams.md "Message mode") sends and receives whole
// messages instead:
//   punch::stream s = co_await c.open_stream({.mode = punch::stream_mode::messages, .ordered = false});
//   co_await s.async_send_message(asio::buffer(update));
//   std::size_t n = co_await s.async_receive_message(asio::buffer(space));
//
// A handle: copies refer to the same stream. Dropping the last handle closes the stream's
// sending side (as close() does, without waiting).
//
// How its operations end:
//   asio::error::eof             read: the peer closed the stream, or closed or ended the
//                                connection gracefully; every byte it wrote was read first
//   errc::stream_closed          write: this side closed the stream (close())
//   errc::connection_closed      write: the peer closed the connection
//   errc::closed_locally, errc::session_closed, errc::timeout
//                                the connection ended on this side (as its own operations say)
//   errc::streams_unavailable    punch was built without usrsctp (PUNCH_STREAMS)
//   errc::empty_stream           a default-constructed handle
//   errc::wrong_stream_mode      a byte operation (async_read_some, async_write_some) on a
//                                message stream, or a message operation on a byte stream
//   asio::error::operation_aborted   cancelled through the token's cancellation slot
class PUNCH_EXPORT stream {
public:
  using executor_type = asio::any_io_executor;

  stream() = default;
  explicit stream(std::shared_ptr<detail::stream_state> s) : state_(std::move(s)) {}

  // The session's executor (an empty handle: none); every operation completes through the
  // handler's own executor.
  executor_type get_executor() const;

  // Reads at least one byte (unless the buffers are empty) into the first non-empty buffer
  // of `buffers`; completes with void(error_code, std::size_t). The buffers must stay valid
  // until it completes. One read at a time.
  template <typename MutableBufferSequence, typename Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return asio::async_initiate<Token, void(error_code, std::size_t)>(
        [s = state_](auto handler, asio::mutable_buffer b) { async_read_some_(s, b, std::move(handler)); }, token,
        first_of(buffers, asio::mutable_buffer{}));
  }
  // Writes at least one byte (unless the buffers are empty) of the first non-empty buffer of
  // `buffers`, once SCTP's send buffer has room; completes with void(error_code, std::size_t).
  // The buffers must stay valid until it completes. One write at a time.
  template <typename ConstBufferSequence, typename Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    return asio::async_initiate<Token, void(error_code, std::size_t)>(
        [s = state_](auto handler, asio::const_buffer b) { async_write_some_(s, b, std::move(handler)); }, token,
        first_of(buffers, asio::const_buffer{}));
  }
  // Message mode: sends `message` (at most stream_options::max_message_size bytes; empty is
  // allowed) as one message, once SCTP's send buffer has room for all of it; completes with
  // void(error_code, std::size_t), the message's size. Completion means SCTP took it, not that
  // it arrived: a partially reliable stream may still abandon it. errc::stream_message_too_large
  // when longer, and the ends above. The buffer must stay valid until it completes. One send at
  // a time.
  template <asio::completion_token_for<completion_signature<std::size_t>> Token = asio::use_awaitable_t<>>
  auto async_send_message(asio::const_buffer message, Token&& token = {}) {
    return asio::async_initiate<Token, void(error_code, std::size_t)>(
        [s = state_](auto handler, asio::const_buffer b) { async_send_message_(s, b, std::move(handler)); }, token,
        message);
  }
  // Message mode: the next message, whole, into `buffer`; completes with void(error_code,
  // std::size_t), its size. A message longer than the buffer is not cut:
  // errc::message_buffer_too_small with the message's size, and it stays next for a larger
  // buffer. asio::error::eof once the peer closed the stream and every message that will come
  // was received (docs/streams.md). One receive at a time.
  template <asio::completion_token_for<completion_signature<std::size_t>> Token = asio::use_awaitable_t<>>
  auto async_receive_message(asio::mutable_buffer buffer, Token&& token = {}) {
    return asio::async_initiate<Token, void(error_code, std::size_t)>(
        [s = state_](auto handler, asio::mutable_buffer b) { async_receive_message_(s, b, std::move(handler)); },
        token, buffer);
  }

  // Ends this side's writing: the peer reads eof after every byte written before. Completes
  // with void(error_code) once the peer acknowledged all of them (SCTP's SENDER_DRY), or with
  // the connection's end. Reading goes on until the peer closes its side.
  template <asio::completion_token_for<completion_signature<void>> Token = asio::use_awaitable_t<>>
  auto close(Token&& token = {}) {
    return asio::async_initiate<Token, void(error_code)>(
        [s = state_](auto handler) { async_close_(s, std::move(handler)); }, token);
  }

  // The SCTP stream id: even on the side that called connect(), odd on the side that accepted.
  std::uint16_t id() const;
  // What the opener chose (the accepting side learns it from the open message); an empty
  // handle's are the defaults.
  stream_options options() const;
  // Bytes received and not read yet (in message mode: of the messages not received yet).
  std::size_t buffered() const;
  bool is_open() const;  // neither side closed it, and the connection is up
  explicit operator bool() const noexcept { return static_cast<bool>(state_); }

private:
  template <typename Sequence, typename Buffer>
  static Buffer first_of(const Sequence& buffers, Buffer none) {
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it)
      if (Buffer b(*it); b.size() > 0) return b;
    return none;
  }
  static void async_read_some_(std::shared_ptr<detail::stream_state> s, asio::mutable_buffer b,
                               completion_handler<std::size_t> handler);
  static void async_write_some_(std::shared_ptr<detail::stream_state> s, asio::const_buffer b,
                                completion_handler<std::size_t> handler);
  static void async_send_message_(std::shared_ptr<detail::stream_state> s, asio::const_buffer b,
                                  completion_handler<std::size_t> handler);
  static void async_receive_message_(std::shared_ptr<detail::stream_state> s, asio::mutable_buffer b,
                                     completion_handler<std::size_t> handler);
  static void async_close_(std::shared_ptr<detail::stream_state> s, completion_handler<void> handler);

  std::shared_ptr<detail::stream_state> state_;
};

}  // namespace punch
