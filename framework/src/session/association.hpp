// A connection's streams (private header): one SCTP association per connection, carried in
// the connection's sctp frames, and the state of each stream on it. Defined in
// association.cpp (the usrsctp socket, its packets and events), stream.cpp (the public
// handles' operations) and, when punch is built without usrsctp, no_streams.cpp.
#pragma once

#include "punch/stream.hpp"
#include "session/one_shot_event.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

struct socket;  // usrsctp's

namespace punch::detail {

struct connection_state;
struct association;
class sctp_stack;

// What the connection calls (connection.cpp).
// An SCTP packet from an authentic sctp frame; starts the association if the peer started it.
void sctp_input(connection_state& c, std::span<const std::byte> packet);
// The connection ended (mark_closed): its streams end with its close reason.
void end_streams(connection_state& c);
// connection::close(): SCTP's graceful SHUTDOWN, so that what was written is delivered
// first, for at most the session's stream_shutdown_timeout.
asio::awaitable<void> shut_down_streams(std::shared_ptr<connection_state> c);

// One direction of a stream: the messages that carry it, told apart by their SCTP payload
// protocol identifier (docs/streams.md).
// Message streams (stream_mode::messages) carry each message as one SCTP message, `message`,
// or, being empty, one byte tagged `empty_message` (SCTP has no empty message).
enum class stream_ppid : std::uint32_t {
  open = 0x50554E01,
  data = 0x50554E02,
  fin = 0x50554E03,
  message = 0x50554E04,
  empty_message = 0x50554E05,
};
// Stream ids 0..1023 (INIT's stream counts): 512 streams each side may open.
inline constexpr std::uint16_t stream_count = 1024;

// The open message's payload (stream_message.cpp, docs/protocol.md "Streams"): one byte for a
// byte stream, as before message mode; eight with the options of a message stream. Null when
// malformed or of an unknown version.
std::vector<std::byte> encode_open(const stream_options& o);
std::optional<stream_options> decode_open(std::span<const std::byte> payload);

struct stream_state : std::enable_shared_from_this<stream_state> {
  stream_state(std::shared_ptr<connection_state> c, std::shared_ptr<association> a, std::uint16_t id);
  ~stream_state();

  // Holds the connection: a stream handle keeps its connection up.
  std::shared_ptr<connection_state> conn;
  std::weak_ptr<association> assoc;
  asio::any_io_executor ex;
  std::uint16_t id;
  stream_options options;  // the opener's; the accepting side's from the open message
  // Message mode: sent and received so far; the count the peer's fin gave; the message being
  // read in pieces.
  std::uint32_t messages_sent = 0, messages_received = 0;
  std::optional<std::uint32_t> fin_count;
  std::vector<std::byte> piece;
  // Received, not read: whole chunks as SCTP gave them, the first read from `offset` on.
  std::deque<std::vector<std::byte>> inbound;
  std::size_t offset = 0;
  std::size_t buffered = 0;
  bool peer_finished = false;  // the peer's fin came: eof once inbound is read
  bool finished = false;       // our fin was sent (close())
  bool fin_pending = false;    // close() waits for room to send the fin
  bool ended = false;          // the association or the connection ended
  error_code end_reason;       // why, for writes; reads see eof for a graceful end
  // The one read and the one write waiting, and the closes waiting for delivery.
  struct pending_read {
    asio::mutable_buffer to;
    completion_handler<std::size_t> handler;
  };
  struct pending_write {
    asio::const_buffer from;
    completion_handler<std::size_t> handler;
  };
  std::optional<pending_read> reader;
  std::optional<pending_write> writer;
  std::vector<completion_handler<void>> closers;
  // open_stream(): the open message waits for room; the stream is handed over once it went.
  std::optional<completion_handler<stream>> opener;

  // Copies buffered bytes into `to`; how many.
  std::size_t take(asio::mutable_buffer to);
  // Lets the association read from SCTP again if this stream's buffer stalled it.
  void release_stall();
  // Why a write or message send cannot start now (ended, closed, one already waits), or none.
  error_code write_refusal() const;
  // Message mode (stream_message.cpp): a piece of a message (`last`: its end); the reader
  // served with whole messages; the waiting message sent (false: no room yet, or it failed).
  void take_piece(std::span<const std::byte> bytes, bool last);
  void serve_message_reader();
  bool send_waiting_message(association& a);
  // Every message the peer will deliver before its fin is in (docs/streams.md).
  bool all_messages_in() const;
  // The fin's payload: one byte; with a message stream's count of messages sent.
  std::vector<std::byte> fin_message() const;
  void on_fin(std::span<const std::byte> payload);
  // Completes the waiting read, if there is something to give it.
  void serve_reader();
  // Sends what waits for room in SCTP's buffer: the open, the write, the fin.
  void write_pending();
  void end(error_code why);
};

// The SCTP association of one connection. usrsctp calls back with the association's address
// (an id registered with the process's sctp_stack), never with a pointer to it.
struct association : std::enable_shared_from_this<association> {
  association(std::shared_ptr<connection_state> c);
  ~association();

  // Opens the socket and starts the association (INIT): both sides do, SCTP's simultaneous
  // open. False (and why) when usrsctp refused.
  bool start(error_code& ec);
  // One SCTP packet from usrsctp, to go out in an sctp frame: sealed into the batch being
  // filled, which goes out (one async_send_batch: one sendmmsg on udp) once the handlers
  // already queued have run, at once when it is full.
  void output(std::span<const std::byte> packet);
  void flush_output();
  // Reads what SCTP has (messages, events) and retries what waits for room; posted by the
  // socket's upcall, and after a read drained a stream.
  void pump();
  void schedule_pump();
  void on_message(std::uint16_t id, std::uint32_t ppid, std::span<const std::byte> bytes);
  void on_notification(std::span<const std::byte> n);
  // SCTP's SHUTDOWN completed (ours or the peer's).
  void shut_down();
  // Opens our next stream id (once the association is up).
  void open_one(const stream_options& options, completion_handler<stream> h);
  // A stream goes to its user: from now on it holds the connection.
  void hand_over(std::shared_ptr<stream_state> s, completion_handler<stream> h);
  // Sends one message on stream `id`; the bytes SCTP took, 0 if its buffer is full, or -1
  // (ec set) if the association cannot send.
  std::ptrdiff_t send(std::uint16_t id, stream_ppid ppid, std::span<const std::byte> bytes, error_code& ec);
  // send() with a message stream's options: unordered, partially reliable (stream_message.cpp).
  std::ptrdiff_t send_message(std::uint16_t id, stream_ppid ppid, std::span<const std::byte> bytes,
                              const stream_options& o, error_code& ec);
  // A message (or its piece) of a message stream; before the stream's open if it is
  // unordered and overtook the open: kept in `early` for it (stream_message.cpp).
  void on_stream_message(std::uint16_t id, std::uint32_t ppid, std::span<const std::byte> bytes,
                         const std::shared_ptr<stream_state>& s);
  // A stream the peer opens takes the messages that came before its open.
  void adopt_early(stream_state& s);
  // Everything that waits for room: writes, fins.
  void retry_writers();
  // Completes the closes waiting for delivery, once SCTP has nothing unacknowledged.
  void check_dry();
  // The association (or the connection) ended: every stream and waiter hears `why`.
  void end(error_code why, bool graceful);
  void close_socket();
  std::shared_ptr<stream_state> make_stream(std::uint16_t id);
  // The streams that still have a handle (or wait in the backlog), held while a loop runs:
  // a completion may drop a stream's last handle, which erases it from `streams`.
  std::vector<std::shared_ptr<stream_state>> live_streams() const;
  static asio::awaitable<void> tick_loop(std::weak_ptr<association> self);

  std::weak_ptr<connection_state> conn;
  asio::any_io_executor ex;
  std::shared_ptr<sctp_stack> stack;
  std::uintptr_t address = 0;
  struct ::socket* sock = nullptr;
  bool up = false;
  bool ended = false;
  bool shutting = false;  // connection::close() sent our SHUTDOWN
  error_code end_reason;
  bool pump_posted = false;
  bool stalled = false;  // a stream's buffer is full: reading from SCTP waits until it is read
  std::weak_ptr<stream_state> stalled_by;
  std::uint16_t next_id;  // ours: even for the side that connected, odd for the other
  std::unordered_map<std::uint16_t, std::weak_ptr<stream_state>> streams;
  // Opened by the peer, not accepted yet; and the accepts waiting for one.
  std::deque<std::shared_ptr<stream_state>> backlog;
  std::deque<completion_handler<stream>> acceptors;
  // Opens waiting for the association to come up.
  struct pending_open {
    stream_options options;
    completion_handler<stream> handler;
  };
  std::deque<pending_open> openers;
  // The peer's stream ids it opened (an id is opened once), and the messages of its unordered
  // streams that overtook their open (at most stream_buffer bytes in all; more are dropped).
  std::bitset<stream_count> opened_by_peer;
  struct early_messages {
    std::deque<std::vector<std::byte>> whole;
    std::vector<std::byte> piece;
  };
  std::unordered_map<std::uint16_t, early_messages> early;
  std::size_t early_bytes = 0;
  one_shot_event shut;  // SHUTDOWN complete, or the end
  std::vector<std::byte> rx;       // one read from usrsctp
  std::vector<std::byte> partial;  // a notification read in pieces
  std::uint16_t partial_sid = 0;   // the message being read in pieces
  std::uint32_t partial_ppid = 0;
  bool in_message = false;
  std::size_t max_packet;
  std::size_t stream_buffer;
  std::size_t largest_packet = 0;  // sent, for the tests of stream_packet_size
  // The frames of output(): two batches, one filling while the other's send is in flight;
  // shared with that send, which may outlive the association. Made at the first packet.
  struct outboxes;
  std::shared_ptr<outboxes> out;
};

}  // namespace punch::detail
