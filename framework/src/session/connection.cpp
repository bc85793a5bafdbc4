// A punched connection: data frames on the session's socket (or on a port-prediction socket),
// keepalive, idle detection, and a close that the other side acknowledges.
#include "session/connection_state.hpp"

#include "session/association.hpp"
#include "session/complete.hpp"
#include "session/fail.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sodium.h>

#include <algorithm>

namespace punch {

// The private state (session_state, connection_state, punch_attempt) is punch::detail's.
using namespace detail;

namespace {
constexpr int close_attempts = 10;
constexpr std::chrono::milliseconds close_gap{100};
}  // namespace

const char* to_string(path_kind k) noexcept {
  switch (k) {
    case path_kind::host: return "host";
    case path_kind::reflexive: return "reflexive";
    case path_kind::peer_reflexive: return "peer-reflexive";
    case path_kind::predicted: return "predicted";
    case path_kind::mapped: return "mapped";
    case path_kind::relay: return "relay";
  }
  return "unknown";
}

connection_state::connection_state(std::shared_ptr<session_state> s, std::shared_ptr<punch_attempt> a)
    : session(std::move(s)),
      attempt(std::move(a)),
      peer(attempt->peer),
      tag(attempt->keys.tag),
      remote(attempt->selected->address),
      path(attempt->selected->kind),
      via(attempt->selected->via),
      last_heard(session->time.now()),
      last_sent(session->time.now()),
      last_activity(last_heard),
      path_heard(last_heard),
      readable(session->ex, session->time),
      close_acked(session->ex, session->time),
      ticker(session->ex, session->time) {}

connection_state::~connection_state() {
  if (open) send_farewell();
  sodium_memzero(rx_key.data(), rx_key.size());
  sodium_memzero(tx_key.data(), tx_key.size());
  sodium_memzero(&rx_aes, sizeof rx_aes);
  sodium_memzero(&tx_aes, sizeof tx_aes);
  if (auto it = session->connections.find(tag); it != session->connections.end() && it->second.expired())
    session->connections.erase(it);
  session->finish_attempt(*attempt);
  if (auto it = session->punches.find(attempt->keys.punch_id); it != session->punches.end() && it->second == attempt)
    session->punches.erase(it);
}

namespace {
// The AEAD nonce: the frame's counter, zero-extended to 24 bytes (XChaCha20-Poly1305) or 12
// (AES-256-GCM, which reads the first 12 of these). Each direction has its own key, so a
// counter never repeats under one key.
std::array<unsigned char, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES> nonce_of(std::uint64_t counter, bool aes) {
  static_assert(crypto_aead_aes256gcm_NPUBBYTES == 12);
  std::array<unsigned char, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES> n{};
  const std::size_t end = aes ? crypto_aead_aes256gcm_NPUBBYTES : n.size();
  for (std::size_t i = 0; i < 8; ++i) n[end - 1 - i] = static_cast<unsigned char>(counter >> (8 * i));
  return n;
}
auto* uc(std::byte* p) { return reinterpret_cast<unsigned char*>(p); }
auto* uc(const std::byte* p) { return reinterpret_cast<const unsigned char*>(p); }
}  // namespace

std::span<const std::byte> connection_state::seal(wire::frame_kind kind, std::span<const std::byte> payload,
                                                  std::span<std::byte> out) {
  const std::uint64_t counter = tx_counter++;
  wire::write_frame_header(out.first<wire::frame_header_size>(), kind, tag, counter);
  const auto nonce = nonce_of(counter, aes);
  std::byte* body = out.data() + wire::frame_header_size;
  if (aes) {
    crypto_aead_aes256gcm_encrypt_detached_afternm(uc(body), uc(body + payload.size()), nullptr, uc(payload.data()),
                                                   payload.size(), uc(out.data()), wire::frame_header_size, nullptr,
                                                   nonce.data(), &tx_aes);
  } else {
    crypto_aead_xchacha20poly1305_ietf_encrypt_detached(uc(body), uc(body + payload.size()), nullptr,
                                                        uc(payload.data()), payload.size(), uc(out.data()),
                                                        wire::frame_header_size, nullptr, nonce.data(), uc(tx_key.data()));
  }
  return out.first(wire::frame_overhead + payload.size());
}

std::optional<std::span<std::byte>> connection_state::open_frame(std::span<std::byte> d) {
  const std::uint64_t counter = wire::frame_counter_of(d);
  if (!rx_window.fresh(counter)) {
    ++session->stats.frames_replayed;
    return std::nullopt;
  }
  const std::size_t size = d.size() - wire::frame_overhead;
  std::byte* body = d.data() + wire::frame_header_size;
  const auto nonce = nonce_of(counter, aes);
  const int rc = aes ? crypto_aead_aes256gcm_decrypt_detached_afternm(uc(body), nullptr, uc(body), size, uc(body + size),
                                                                      uc(d.data()), wire::frame_header_size,
                                                                      nonce.data(), &rx_aes)
                     : crypto_aead_xchacha20poly1305_ietf_decrypt_detached(uc(body), nullptr, uc(body), size,
                                                                           uc(body + size), uc(d.data()),
                                                                           wire::frame_header_size, nonce.data(),
                                                                           uc(rx_key.data()));
  if (rc != 0) {
    ++session->stats.frames_rejected;
    return std::nullopt;
  }
  rx_window.accept(counter);
  return d.subspan(wire::frame_header_size, size);
}

void connection_state::on_frame(std::span<std::byte> d, const endpoint& from, std::size_t on) {
  // Nothing is believed before it authenticates: not the kind, not the path it came on.
  auto opened = open_frame(d);
  if (!opened) return;
  // Authentic: the peer is alive. Where it came from decides about the path (path.cpp).
  heard(wire::frame_kind_of(d), *opened, from, on);
  switch (wire::frame_kind_of(d)) {
    case wire::frame_kind::data: {
      if (!open) return;
      active(session->time.now());
      const std::span<const std::byte> payload = *opened;
      if (waiting) {
        const std::size_t n = std::min(payload.size(), waiting->size());
        std::memcpy(waiting->data(), payload.data(), n);
        delivered = n;
        waiting.reset();
        readable.fire();
      } else if (!inbound.push(payload)) {
        ++dropped;  // like a full socket buffer
      }
      break;
    }
    case wire::frame_kind::keepalive:
      break;
    case wire::frame_kind::close:
      // Acknowledge every copy: our previous ack may have been lost.
      asio::co_spawn(session->ex, send_control(wire::frame_kind::close_ack), asio::detached);
      if (!open || closing_at) break;
      // What the peer sent before its close may still be on the way (UDP reorders): the
      // close takes effect once every earlier frame is in, or after close_linger.
      closing_at = wire::frame_counter_of(d);
      if (rx_window.has_all_before(*closing_at)) {
        closed_by_peer();
      } else {
        asio::co_spawn(session->ex, linger(weak_from_this(), session->time), asio::detached);
      }
      break;
    case wire::frame_kind::close_ack:
      close_acked.fire();
      break;
    case wire::frame_kind::probe:
    case wire::frame_kind::probe_ack:
      break;  // heard() answered or used it
    case wire::frame_kind::sctp:
      active(session->time.now());
      sctp_input(*this, *opened);
      break;
  }
  // A close waiting for earlier frames: this one may have been the last it missed.
  if (open && closing_at && wire::frame_kind_of(d) != wire::frame_kind::close && rx_window.has_all_before(*closing_at))
    closed_by_peer();
}

void connection_state::closed_by_peer() {
  mark_closed(make_error_code(errc::connection_closed), "connection closed by \"" + peer + "\"", true);
}

asio::awaitable<void> connection_state::linger(std::weak_ptr<connection_state> weak, punch::clock& time) {
  punch::timer timer(co_await asio::this_coro::executor, time, close_linger);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  if (auto c = weak.lock()) c->closed_by_peer();
}

void connection_state::mark_closed(error_code why, std::string text, bool by_remote) {
  if (!open) return;
  open = false;
  close_reason = why;
  close_text = std::move(text);
  readable.fire();
  ticker.cancel();
  end_streams(*this);
  session->emit({.what = session_event::kind::closed,
                 .peer = peer,
                 .address = remote,
                 .path = path,
                 .error = by_remote ? why : error_code{}});
}

void connection_state::send_farewell() {
  datagram_socket& s = out();
  if (!s.is_open()) return;
  // The handler owns the frame: this state may be gone before the send completes.
  auto frame = std::make_shared<std::array<std::byte, wire::frame_overhead>>();
  seal(wire::frame_kind::close, {}, *frame);
  s.async_send_to(asio::buffer(*frame), remote, [frame](error_code, std::size_t) {});
}

asio::awaitable<void> connection_state::send_control(wire::frame_kind kind) {
  auto self = shared_from_this();
  std::array<std::byte, wire::frame_overhead> frame;
  seal(kind, {}, frame);
  co_await out().async_send_to(asio::buffer(frame), remote, asio::as_tuple(asio::use_awaitable));
  last_sent = session->time.now();
}

// Keepalive frames when idle (the NAT mappings on both sides expire otherwise), the path's
// probes (path.cpp) and the idle timeout. Holds the state weakly so that a dropped connection
// handle ends it.
asio::awaitable<void> connection_state::tick_loop(std::weak_ptr<connection_state> weak) {
  for (;;) {
    auto c = weak.lock();
    if (!c || !c->open || c->session->closed) co_return;
    const auto idle = c->session->options.connection_idle_timeout;
    auto now = c->session->time.now();
    if (now - c->last_heard >= idle) {
      c->mark_closed(make_error_code(errc::timeout),
                     "connection to \"" + c->peer + "\" timed out: nothing heard for " +
                         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(idle).count()) + " s",
                     true);
      co_return;
    }
    auto path_wake = co_await c->tend_path(now);
    if (!c->open) co_return;
    // A keepalive goes out on the grid point before it is due (early by less than a grain),
    // the idle timeout is looked at on the one after; probes of a quiet path keep their gap.
    const auto& grid = c->session->grid;
    const auto keepalive = c->keepalive_now(now);
    if (now >= grid.floor(c->last_sent + keepalive)) co_await c->send_control(wire::frame_kind::keepalive);
    if (!c->path_quiet(now)) path_wake = grid.ceil(path_wake);
    const auto wake = std::min({path_wake, grid.floor(c->last_sent + keepalive), grid.ceil(c->last_heard + idle)});
    auto& timer = c->ticker;
    timer.expires_at(std::max(wake, c->session->time.now() + std::chrono::milliseconds(1)));
    c.reset();
    // A cancel (a close, or a send into a quiet path) only makes the loop look again.
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

// ---- the public handle ----

namespace {
using detail::deliver;
using detail::fail;

// The failure of an operation on a connection that has ended; receive() reads the peer's
// close as the end of its data (asio::error::eof), send() as connection_closed.
detail::failure ended(const connection_state& c, bool receiving) {
  if (receiving && c.close_reason == errc::connection_closed) return fail(asio::error::eof, c.close_text);
  return fail(c.close_reason, c.close_text);
}

// A handle without a state has no session executor to post to: the handler's own executor
// runs its completion, at once where that executor allows it.
template <typename Handler, typename... Args>
void complete_now(Handler h, Args... args) {
  auto ex = asio::get_associated_executor(h);
  asio::dispatch(ex, asio::append(std::move(h), args...));
}

detail::failure empty(const char* what) { return fail(errc::empty_connection, std::string(what) + " on an empty connection"); }
}  // namespace

asio::awaitable<void> connection::send_(std::shared_ptr<connection_state> c, asio::const_buffer data, error_code* ec) {
  if (!c) co_return deliver(empty("send"), ec);
  if (!c->open) co_return deliver(fail(c->close_reason, "sending to \"" + c->peer + "\": " + c->close_text), ec);
  if (data.size() > max_payload())
    co_return deliver(fail(errc::payload_too_large, "sending to \"" + c->peer + "\": " + std::to_string(data.size()) +
                                                        " bytes exceed the maximum of " + std::to_string(max_payload())),
                      ec);
  // One reusable buffer per connection; a concurrent send falls back to its own.
  std::vector<std::byte> fallback;
  std::span<std::byte> out(c->tx_buffer);
  const bool own = !c->tx_busy;
  if (own) {
    c->tx_busy = true;
  } else {
    fallback.resize(wire::frame_overhead + max_payload());
    out = fallback;
  }
  struct release {
    connection_state* c;
    bool own;
    ~release() {
      if (own) c->tx_busy = false;
    }
  } guard{c.get(), own};
  const auto frame = c->seal(wire::frame_kind::data,
                            std::span<const std::byte>(static_cast<const std::byte*>(data.data()), data.size()), out);
  auto [sent, n] = co_await c->out().async_send_to(asio::buffer(frame.data(), frame.size()), c->remote,
                                                  asio::as_tuple(asio::use_awaitable));
  if (sent) co_return deliver(fail(sent, "sending to \"" + c->peer + "\""), ec);
  c->sent_data();
}

asio::awaitable<std::size_t> connection::send_batch_(std::shared_ptr<connection_state> c,
                                                     std::span<const asio::const_buffer> datagrams, error_code* ec) {
  if (!c) co_return deliver<std::size_t>(empty("send_batch"), ec);
  if (!c->open)
    co_return deliver<std::size_t>(fail(c->close_reason, "sending to \"" + c->peer + "\": " + c->close_text), ec);
  for (std::size_t i = 0; i < datagrams.size(); ++i)
    if (datagrams[i].size() > max_payload())
      co_return deliver<std::size_t>(
          fail(errc::payload_too_large, "sending to \"" + c->peer + "\": datagram " + std::to_string(i) + " of the batch has " +
                                            std::to_string(datagrams[i].size()) + " bytes, above the maximum of " +
                                            std::to_string(max_payload())),
          ec);
  if (datagrams.empty()) co_return 0;
  // The session's batch, lent to one send_batch at a time; a concurrent one makes its own.
  session_state& s = *c->session;
  std::unique_ptr<frame_batch> own;
  frame_batch* batch = nullptr;
  if (!s.tx_batch_busy) {
    if (!s.tx_batch) s.tx_batch = std::make_unique<frame_batch>(session_state::send_batch_size, wire::frame_overhead + max_payload());
    batch = s.tx_batch.get();
    s.tx_batch_busy = true;
  } else {
    own = std::make_unique<frame_batch>(std::min(datagrams.size(), session_state::send_batch_size),
                                        wire::frame_overhead + max_payload());
    batch = own.get();
  }
  struct release {
    session_state& s;
    bool lent;
    ~release() {
      if (lent) s.tx_batch_busy = false;
    }
  } guard{s, !own};
  std::size_t sent = 0;
  for (std::size_t at = 0; at < datagrams.size();) {
    // The connection may have closed, or moved to another path, while the last batch went out
    // (a close midway reports the close, not the datagrams sent before it).
    if (!c->open)
      co_return deliver<std::size_t>(fail(c->close_reason, "sending to \"" + c->peer + "\": " + c->close_text), ec);
    batch->clear();
    for (; at < datagrams.size() && !batch->full(); ++at) {
      const auto& d = datagrams[at];
      batch->add(c->seal(wire::frame_kind::data, std::span<const std::byte>(static_cast<const std::byte*>(d.data()), d.size()),
                         batch->next_slot()),
                 c->remote);
    }
    auto [failed, n] = co_await c->out().async_send_batch(batch->queued(), asio::as_tuple(asio::use_awaitable));
    sent += n;
    if (failed) co_return deliver<std::size_t>(fail(failed, "sending to \"" + c->peer + "\""), ec);
  }
  c->sent_data();
  co_return sent;
}

void connection_state::sent_data() {
  const auto now = session->time.now();
  if (now - path_heard >= session->options.path_probe_after && last_data_sent <= path_heard) ticker.cancel();
  active(now);
  last_sent = last_data_sent = now;
}

void connection_state::active(clock::time_point now) {
  // Idle until now: the ticker sleeps for the idle keepalive; let it look again.
  if (now - last_activity >= session->options.connection_idle_after) ticker.cancel();
  last_activity = now;
}

clock::duration connection_state::keepalive_now(clock::time_point now) const {
  const auto& o = session->options;
  // Room for a lost keepalive to be probed for, and answered, before the idle timeout.
  const auto cap = o.connection_idle_timeout - o.path_probe_after - o.path_probes * o.path_probe_gap;
  const auto idle_keepalive = std::min<clock::duration>(o.connection_idle_keepalive, cap);
  if (idle_keepalive <= o.connection_keepalive || now - last_activity < o.connection_idle_after) return o.connection_keepalive;
  return idle_keepalive;
}

asio::awaitable<std::size_t> connection::receive_(std::shared_ptr<connection_state> c, asio::mutable_buffer data,
                                                  error_code* ec) {
  if (!c) co_return deliver<std::size_t>(empty("receive"), ec);
  if (!c->inbound.empty()) co_return c->inbound.pop(data);
  if (!c->open) co_return deliver<std::size_t>(ended(*c, true), ec);
  c->waiting = data;
  c->delivered = 0;
  c->readable.reset();
  struct unpark {
    connection_state* c;
    ~unpark() { c->waiting.reset(); }
  } guard{c.get()};
  co_await c->readable.wait_until(clock::time_point::max());
  if (!c->waiting) co_return c->delivered;  // on_frame filled our buffer
  co_return deliver<std::size_t>(ended(*c, true), ec);
}

asio::awaitable<void> connection::close_(std::shared_ptr<connection_state> c, error_code*) {
  if (!c || !c->open) co_return;
  co_await shut_down_streams(c);
  for (int i = 0; i < close_attempts && c->open && !c->close_acked.fired() && !c->session->closed; ++i) {
    co_await c->send_control(wire::frame_kind::close);
    co_await c->close_acked.wait_until(c->session->time.now() + close_gap);
  }
  c->mark_closed(make_error_code(errc::closed_locally), "connection to \"" + c->peer + "\" closed", false);
}

void connection::async_send_(std::shared_ptr<connection_state> c, asio::const_buffer data, completion_handler<void> h) {
  if (!c) return complete_now(std::move(h), make_error_code(errc::empty_connection));
  auto ex = c->session->ex;
  detail::spawn_for<void>(ex, [c = std::move(c), data](error_code* ec) { return send_(c, data, ec); }, std::move(h));
}

void connection::async_send_batch_(std::shared_ptr<connection_state> c, std::span<const asio::const_buffer> datagrams,
                                   completion_handler<std::size_t> h) {
  if (!c) return complete_now(std::move(h), make_error_code(errc::empty_connection), std::size_t{0});
  auto ex = c->session->ex;
  detail::spawn_for<std::size_t>(
      ex, [c = std::move(c), datagrams](error_code* ec) { return send_batch_(c, datagrams, ec); }, std::move(h));
}

void connection::async_receive_(std::shared_ptr<connection_state> c, asio::mutable_buffer data,
                                completion_handler<std::size_t> h) {
  if (!c) return complete_now(std::move(h), make_error_code(errc::empty_connection), std::size_t{0});
  auto ex = c->session->ex;
  detail::spawn_for<std::size_t>(ex, [c = std::move(c), data](error_code* ec) { return receive_(c, data, ec); },
                                 std::move(h));
}

void connection::async_close_(std::shared_ptr<connection_state> c, completion_handler<void> h) {
  if (!c) return complete_now(std::move(h), error_code{});
  auto ex = c->session->ex;
  detail::spawn_for<void>(ex, [c = std::move(c)](error_code* ec) { return close_(c, ec); }, std::move(h));
}

const std::string& connection::peer() const { return state_->peer; }
const public_key& connection::peer_key() const { return state_->attempt->peer_key; }
const char* connection::cipher() const { return state_->aes ? "aes-256-gcm" : "xchacha20-poly1305"; }
endpoint connection::remote_endpoint() const { return state_->remote; }
path_kind connection::path() const { return state_->path; }
bool connection::is_open() const { return state_ && state_->open; }

}  // namespace punch
