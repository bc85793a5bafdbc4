// Message mode (punch/stream_options.hpp, docs/streams.md "Message mode"): the options the
// open message carries to the peer, a message's way out (SCTP's per-message send info:
// unordered delivery, partial reliability) and in (whole, maybe read in pieces, maybe before
// its stream's open), and the public message operations.
#include "session/association.hpp"

#include "session/connection_state.hpp"
#include "session/stream_completion.hpp"

#include <usrsctp.h>

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>

namespace punch {

using namespace detail;

namespace {

constexpr std::byte version{1};       // the open's and the fin's first byte
constexpr std::size_t open_size = 8;  // version, mode, flags, policy, value (32 bits)
constexpr std::size_t fin_size = 5;   // version, count of messages sent (32 bits)
constexpr std::byte unordered_flag{1};
enum class policy : std::uint8_t { reliable = 0, retransmits = 1, lifetime = 2 };

void put32(std::byte* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>(v >> (24 - 8 * i));
}
std::uint32_t get32(const std::byte* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = v << 8 | std::to_integer<std::uint32_t>(p[i]);
  return v;
}

}  // namespace

namespace detail {

std::vector<std::byte> encode_open(const stream_options& o) {
  if (o.mode == stream_mode::bytes) return {version};
  std::vector<std::byte> m(open_size);
  m[0] = version;
  m[1] = static_cast<std::byte>(o.mode);
  m[2] = o.ordered ? std::byte{0} : unordered_flag;
  const auto p = o.max_retransmits ? policy::retransmits : o.max_lifetime ? policy::lifetime : policy::reliable;
  m[3] = static_cast<std::byte>(p);
  const auto value = o.max_retransmits ? *o.max_retransmits : o.max_lifetime ? o.max_lifetime->count() : 0;
  put32(&m[4], static_cast<std::uint32_t>(value));
  return m;
}

std::optional<stream_options> decode_open(std::span<const std::byte> b) {
  if (b.empty() || b[0] != version) return std::nullopt;
  stream_options o;
  if (b.size() == 1) return o;  // a byte stream
  if (b.size() != open_size || b[1] != static_cast<std::byte>(stream_mode::messages)) return std::nullopt;
  o.mode = stream_mode::messages;
  o.ordered = (b[2] & unordered_flag) == std::byte{0};
  const std::uint32_t value = get32(&b[4]);
  switch (static_cast<policy>(b[3])) {
    case policy::reliable: break;
    case policy::retransmits:
      if (value > 0xFFFF) return std::nullopt;
      o.max_retransmits = static_cast<std::uint16_t>(value);
      break;
    case policy::lifetime: o.max_lifetime = std::chrono::milliseconds(value); break;
    default: return std::nullopt;
  }
  return o;
}

std::ptrdiff_t association::send_message(std::uint16_t id, stream_ppid ppid, std::span<const std::byte> bytes,
                                         const stream_options& o, error_code& ec) {
  if (ended || !sock) {
    ec = end_reason ? end_reason : make_error_code(errc::stream_failed);
    return -1;
  }
  sctp_sendv_spa spa{};
  spa.sendv_flags = SCTP_SEND_SNDINFO_VALID;
  spa.sendv_sndinfo.snd_sid = id;
  spa.sendv_sndinfo.snd_ppid = htonl(static_cast<std::uint32_t>(ppid));
  spa.sendv_sndinfo.snd_flags = o.ordered ? 0 : SCTP_UNORDERED;
  // RFC 3758's policies, as WebRTC's maxRetransmits and maxPacketLifeTime (RFC 7496).
  if (o.max_retransmits || o.max_lifetime) {
    spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
    spa.sendv_prinfo.pr_policy = o.max_retransmits ? SCTP_PR_SCTP_RTX : SCTP_PR_SCTP_TTL;
    spa.sendv_prinfo.pr_value =
        o.max_retransmits ? *o.max_retransmits : static_cast<std::uint32_t>(o.max_lifetime->count());
  }
  // Without SCTP_EXPLICIT_EOR, a non-blocking send takes the whole message or nothing
  // (EWOULDBLOCK): a message is never split across sends.
  const ssize_t n = usrsctp_sendv(sock, bytes.data(), bytes.size(), nullptr, 0, &spa, sizeof spa, SCTP_SENDV_SPA, 0);
  if (n >= 0) return n;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
  ec = make_error_code(errc::stream_failed);
  return -1;
}

void association::on_stream_message(std::uint16_t id, std::uint32_t ppid, std::span<const std::byte> bytes,
                                    const std::shared_ptr<stream_state>& s) {
  // pump() set in_message for the piece it just read: false once the message is whole.
  const bool last = !in_message;
  if (static_cast<stream_ppid>(ppid) == stream_ppid::empty_message) bytes = {};
  if (s) {
    if (!s->ended && s->options.mode == stream_mode::messages) s->take_piece(bytes, last);
    return;
  }
  // A peer's id it has not opened yet: an unordered message overtook the open (which is sent
  // ordered, first). Closed streams' ids are in opened_by_peer: their messages are dropped.
  if ((id % 2) == (next_id % 2) || id >= stream_count || opened_by_peer.test(id)) return;
  if (early_bytes + bytes.size() > stream_buffer) return;
  early_bytes += bytes.size();
  auto& e = early[id];
  e.piece.insert(e.piece.end(), bytes.begin(), bytes.end());
  if (last) e.whole.push_back(std::exchange(e.piece, {}));
}

void association::adopt_early(stream_state& s) {
  auto it = early.find(s.id);
  if (it == early.end()) return;
  auto e = std::move(it->second);
  early.erase(it);
  for (auto& m : e.whole) {
    early_bytes -= m.size();
    s.take_piece(m, true);
  }
  early_bytes -= e.piece.size();
  s.piece = std::move(e.piece);
}

void stream_state::take_piece(std::span<const std::byte> bytes, bool last) {
  piece.insert(piece.end(), bytes.begin(), bytes.end());
  if (!last) return;
  // An unordered, partially reliable stream's messages that come after the fin (and eof)
  // are dropped: nothing said they would come (docs/streams.md).
  if (peer_finished && !options.ordered && options.partially_reliable()) return piece.clear();
  ++messages_received;
  buffered += piece.size();
  inbound.push_back(std::exchange(piece, {}));
  if (auto a = assoc.lock(); a && buffered > a->stream_buffer) {
    a->stalled = true;
    a->stalled_by = weak_from_this();
  }
  serve_reader();
}

bool stream_state::all_messages_in() const {
  // Ordered: the fin comes after every message before it, delivered or abandoned (SCTP's
  // stream sequence). Unordered and reliable: each counted message comes. Unordered and
  // partially reliable: nobody knows which will, so the fin ends it.
  if (options.ordered || options.partially_reliable() || !fin_count) return true;
  return messages_received >= *fin_count;
}

void stream_state::serve_message_reader() {
  if (!reader) return;
  if (!inbound.empty()) {
    auto r = std::move(*reader);
    reader.reset();
    const std::size_t n = inbound.front().size();
    // Too long for the buffer: it stays next, and the caller learns the size it needs.
    if (n > r.to.size()) return complete_waiting(ex, std::move(r.handler), make_error_code(errc::message_buffer_too_small), n);
    if (n > 0) std::memcpy(r.to.data(), inbound.front().data(), n);
    inbound.pop_front();
    buffered -= n;
    release_stall();
    return complete_waiting(ex, std::move(r.handler), error_code{}, n);
  }
  if (!ended && !(peer_finished && all_messages_in())) return;
  auto r = std::move(*reader);
  reader.reset();
  const bool eof = peer_finished || end_reason == errc::connection_closed;
  complete_waiting(ex, std::move(r.handler), eof ? error_code(asio::error::eof) : end_reason, std::size_t{0});
}

bool stream_state::send_waiting_message(association& a) {
  static constexpr std::byte filler{0};  // an empty message's one byte
  const auto from = writer->from;
  const bool empty = from.size() == 0;
  const auto bytes = empty ? std::span(&filler, 1) : std::span(static_cast<const std::byte*>(from.data()), from.size());
  error_code ec;
  const auto n = a.send_message(id, empty ? stream_ppid::empty_message : stream_ppid::message, bytes, options, ec);
  if (n == 0) return false;
  auto w = std::move(*writer);
  writer.reset();
  if (n < 0) {
    complete_waiting(ex, std::move(w.handler), ec, std::size_t{0});
    return false;
  }
  ++messages_sent;
  complete_waiting(ex, std::move(w.handler), error_code{}, from.size());
  return true;
}

std::vector<std::byte> stream_state::fin_message() const {
  if (options.mode == stream_mode::bytes) return {version};
  std::vector<std::byte> m(fin_size);
  m[0] = version;
  put32(&m[1], messages_sent);
  return m;
}

void stream_state::on_fin(std::span<const std::byte> payload) {
  peer_finished = true;
  if (options.mode == stream_mode::messages && payload.size() == fin_size) fin_count = get32(&payload[1]);
  serve_reader();
}

}  // namespace detail

// ---- the public message operations ----

void stream::async_send_message_(std::shared_ptr<stream_state> s, asio::const_buffer b, completion_handler<std::size_t> h) {
  if (!s) return complete_now(std::move(h), make_error_code(errc::empty_stream), std::size_t{0});
  error_code ec = s->write_refusal();
  if (s->options.mode != stream_mode::messages) ec = make_error_code(errc::wrong_stream_mode);
  else if (b.size() > stream_options::max_message_size) ec = make_error_code(errc::stream_message_too_large);
  if (ec) return complete(s->ex, std::move(h), ec, std::size_t{0});
  cancel_through<&stream_state::writer>(s, asio::get_associated_cancellation_slot(h));
  s->writer = stream_state::pending_write{b, std::move(h)};
  s->write_pending();
}

void stream::async_receive_message_(std::shared_ptr<stream_state> s, asio::mutable_buffer b,
                                    completion_handler<std::size_t> h) {
  if (!s) return complete_now(std::move(h), make_error_code(errc::empty_stream), std::size_t{0});
  error_code ec;
  if (s->options.mode != stream_mode::messages) ec = make_error_code(errc::wrong_stream_mode);
  else if (s->reader) ec = asio::error::in_progress;
  if (ec) return complete(s->ex, std::move(h), ec, std::size_t{0});
  cancel_through<&stream_state::reader>(s, asio::get_associated_cancellation_slot(h));
  s->reader = stream_state::pending_read{b, std::move(h)};
  s->serve_reader();
}

}  // namespace punch
