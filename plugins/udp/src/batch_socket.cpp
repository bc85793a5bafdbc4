// The udp socket: batch operations by recvmmsg/sendmmsg straight from the caller's slots; in
// the queued mode a receive queue filled by recvmmsg and a send queue drained by sendmmsg.
#include "batch_socket.hpp"

#include "batch_buffers.hpp"
#include "held_cancellation.hpp"
#include "socket_setup.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <span>
#include <vector>

namespace punch::udp {

namespace {

error_code last_error() { return {errno, asio::error::get_system_category()}; }

}  // namespace

struct batch_socket::state : std::enable_shared_from_this<state> {
  state(asio::ip::udp::socket s, std::size_t n, bool q)
      : socket(std::move(s)), v6(socket.is_open() && socket.local_endpoint().address().is_v6()), queued(q),
        in(q ? n : 0), out(q ? n : 0), direct_in(n), direct_out(n) {}

  asio::ip::udp::socket socket;
  bool v6;      // IPv4 destinations go out IPv4-mapped
  bool queued;  // the single operations go through the queues (else straight to asio)
  receive_queue in;
  datagram_batch out;
  direct_headers direct_in, direct_out;
  bool waiting = false;       // a readiness wait is in flight
  bool flush_posted = false;  // a flush is queued behind the handlers already posted
  bool write_waiting = false; // the send buffer was full: a flush waits for writability
  std::uint64_t receives = 0; // receive calls so far: a draining loop defers the flush

  // Completes `h` later (never inside the initiating call), without allocating when it runs
  // on the socket's executor.
  void post(datagram_handler h, error_code ec, std::size_t n) {
    // Bound to the socket's executor and the default allocator, post needs neither a work
    // guard on the handler's type-erased executor nor its allocator: nothing is allocated.
    const auto& ex = socket.get_executor();
    if (runs_on(h, ex))
      asio::post(ex, asio::bind_executor(ex, asio::bind_allocator(std::allocator<void>(),
                                                                   asio::append(std::move(h), ec, n))));
    else
      asio::post(socket.get_executor(), asio::append(std::move(h), ec, n));
  }
  // Completes `h` now if we are on its executor (inside a completion of this socket).
  void complete(datagram_handler h, error_code ec, std::size_t n) {
    if (runs_on(h, socket.get_executor()))
      std::move(h)(ec, n);
    else
      asio::dispatch(socket.get_executor(), asio::append(std::move(h), ec, n));
  }

  // Copies the next queued datagram out; truncated to the buffer, as UDP does.
  std::size_t take(asio::mutable_buffer data, endpoint& from) {
    const received_datagram& d = in.slots[in.next++];
    const std::size_t n = std::min(d.size, data.size());
    std::memcpy(data.data(), d.buffer.data(), n);
    from = d.from;
    if (in.next == in.count) in.next = in.count = 0;
    return n;
  }

  // recvmmsg straight into `slots` (at most N of them), without blocking: how many arrived
  // (0: nothing yet, or an error in ec).
  std::size_t receive_into(std::span<received_datagram> slots, error_code& ec) {
    const std::size_t n = direct_in.prepare(slots);
    const int r = ::recvmmsg(socket.native_handle(), direct_in.msgs.data(), static_cast<unsigned>(n), MSG_DONTWAIT, nullptr);
    if (r < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ec = last_error();
      return 0;
    }
    for (std::size_t k = 0; k < static_cast<std::size_t>(r); ++k) {
      slots[k].size = std::min<std::size_t>(direct_in.msgs[k].msg_len, slots[k].buffer.size());
      slots[k].from.resize(std::min<std::size_t>(direct_in.msgs[k].msg_hdr.msg_namelen, slots[k].from.capacity()));
    }
    return static_cast<std::size_t>(r);
  }

  // Fills the receive queue without blocking: > 0 datagrams, 0 (nothing yet), or an error.
  std::size_t fill(error_code& ec) {
    in.count = receive_into(in.slots, ec);
    in.next = 0;
    return in.count;
  }

  // Sends what is queued. A full send buffer (EAGAIN) keeps the rest queued until the socket
  // is writable; a datagram that fails twice in a row is dropped (UDP is lossy).
  void flush() {
    bool retried = false;
    while (out.next < out.count) {
      const int n = ::sendmmsg(socket.native_handle(), out.msgs.data() + out.next,
                               static_cast<unsigned>(out.count - out.next), 0);
      if (n > 0) {
        out.next += static_cast<std::size_t>(n);
        retried = false;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!write_waiting) {
          write_waiting = true;
          socket.async_wait(asio::socket_base::wait_write, [self = shared_from_this()](error_code ec) {
            self->write_waiting = false;
            if (!ec && self->socket.is_open()) self->flush();
          });
        }
        return;
      } else if (!retried) {
        // Often an earlier datagram's ICMP feedback (ECONNREFUSED), reported once on this
        // call and then cleared: the datagram itself may well go through.
        retried = true;
      } else {
        ++out.next;  // this one really fails: drop it
        retried = false;
      }
    }
    out.next = out.count = 0;
  }

  // A flush behind the handlers already posted; a loop still draining the receive queue
  // defers it to its next empty queue (or to the next flush), so that sends go out together.
  void schedule_flush() {
    if (flush_posted) return;
    flush_posted = true;
    asio::post(socket.get_executor(), [self = shared_from_this(), seen = receives] {
      self->flush_posted = false;
      if (!self->socket.is_open()) return;
      if (self->in.count > 0 && self->receives != seen) return self->schedule_flush();
      self->flush();
    });
  }

  // Fills the caller's slots without blocking: the queued datagrams first, else recvmmsg
  // straight into their buffers. Returns how many (0: nothing yet, or an error in ec).
  std::size_t fill(std::span<received_datagram> slots, error_code& ec) {
    if (in.count == 0) return receive_into(slots, ec);
    std::size_t k = 0;
    for (; k < slots.size() && in.count > 0; ++k) slots[k].size = take(slots[k].buffer, slots[k].from);
    return k;
  }

  // `held`: the caller's slot, held since an earlier wait of this operation (none at first).
  void receive(asio::mutable_buffer data, endpoint& from, datagram_handler h, held_cancellation held = {});
  void receive_batch(std::span<received_datagram> slots, datagram_handler h, held_cancellation held = {});
  // Sends datagrams[next, end) with sendmmsg, `sent` of them already; waits for room in the
  // kernel's buffer when it is full. `inside`: running in a completion (no post needed).
  void send_batch(std::span<const outgoing_datagram> datagrams, std::size_t sent, datagram_handler h, bool inside,
                  held_cancellation held = {});
  // Waits for room in the kernel's send buffer, then sends `rest` (send_batch, inside).
  void wait_writable(std::span<const outgoing_datagram> rest, std::size_t sent, datagram_handler h, held_cancellation held);
};

void batch_socket::state::receive(asio::mutable_buffer data, endpoint& from, datagram_handler h, held_cancellation held) {
  ++receives;
  if (in.count > 0) {
    held.release();
    return post(std::move(h), {}, take(data, from));
  }
  flush();  // about to wait: what we owe goes out first
  error_code ec;
  if (fill(ec) > 0 || ec) {
    held.release();
    return post(std::move(h), ec, ec ? 0 : take(data, from));
  }
  if (!held.holding()) held = held_cancellation::hold(asio::get_associated_cancellation_slot(h));
  if (waiting) {
    // A second receive at once: served one datagram at a time by asio directly.
    return socket.async_receive_from(
        data, from, asio::bind_cancellation_slot(held.inner(), [self = shared_from_this(), h = std::move(h), held](error_code ec, std::size_t n) mutable {
          held.release();
          self->complete(std::move(h), ec, n);
        }));
  }
  waiting = true;
  socket.async_wait(asio::socket_base::wait_read,
                    asio::bind_cancellation_slot(held.inner(), [self = shared_from_this(), data, f = &from,
                                                                h = std::move(h), held](error_code wait_ec) mutable {
                      self->waiting = false;
                      if (!wait_ec && !self->socket.is_open()) wait_ec = asio::error::operation_aborted;
                      error_code ec = wait_ec;
                      if (!ec && self->fill(ec) > 0) {
                        held.release();
                        return self->complete(std::move(h), {}, self->take(data, *f));
                      }
                      // Woken for nothing: wait again, unless cancelled after this wait completed.
                      if (!ec && held.requested()) ec = asio::error::operation_aborted;
                      if (ec) {
                        held.release();
                        return self->complete(std::move(h), ec, 0);
                      }
                      --self->receives;
                      self->receive(data, *f, std::move(h), held);
                    }));
}

void batch_socket::state::receive_batch(std::span<received_datagram> slots, datagram_handler h, held_cancellation held) {
  ++receives;
  if (in.count == 0) flush();  // about to read from the kernel: what we owe goes out first
  error_code ec;
  if (const std::size_t n = fill(slots, ec); n > 0 || ec) {
    held.release();
    return post(std::move(h), ec, n);
  }
  if (!held.holding()) held = held_cancellation::hold(asio::get_associated_cancellation_slot(h));
  if (waiting) {
    // A second receive at once: one datagram, through asio directly.
    received_datagram& first = slots.front();
    return socket.async_receive_from(
        first.buffer, first.from,
        asio::bind_cancellation_slot(held.inner(), [self = shared_from_this(), &first, h = std::move(h), held](error_code ec, std::size_t n) mutable {
          held.release();
          first.size = ec ? 0 : n;
          self->complete(std::move(h), ec, ec ? 0 : 1);
        }));
  }
  waiting = true;
  socket.async_wait(asio::socket_base::wait_read,
                    asio::bind_cancellation_slot(held.inner(), [self = shared_from_this(), slots, h = std::move(h), held](error_code wait_ec) mutable {
                      self->waiting = false;
                      if (!wait_ec && !self->socket.is_open()) wait_ec = asio::error::operation_aborted;
                      error_code ec = wait_ec;
                      std::size_t n = 0;
                      if (!ec) n = self->fill(slots, ec);
                      // Woken for nothing: wait again, unless cancelled after this wait completed.
                      if (n == 0 && !ec && held.requested()) ec = asio::error::operation_aborted;
                      if (n > 0 || ec) {
                        held.release();
                        return self->complete(std::move(h), ec, n);
                      }
                      --self->receives;
                      self->receive_batch(slots, std::move(h), held);
                    }));
}

void batch_socket::state::send_batch(std::span<const outgoing_datagram> datagrams, std::size_t sent, datagram_handler h,
                                     bool inside, held_cancellation held) {
  const auto done = [&](error_code ec) {
    held.release();
    if (inside) complete(std::move(h), ec, sent);
    else post(std::move(h), ec, sent);
  };
  if (!socket.is_open()) return done(errc::socket_closed);
  bool retried = false;
  std::size_t next = 0;
  while (next < datagrams.size()) {
    const std::size_t n = direct_out.prepare(datagrams.subspan(next));
    const int r = ::sendmmsg(socket.native_handle(), direct_out.msgs.data(), static_cast<unsigned>(n), 0);
    if (r > 0) {
      next += static_cast<std::size_t>(r);
      sent += static_cast<std::size_t>(r);
      retried = false;
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // The kernel's send buffer is full: the rest waits for room (the caller keeps the batch),
      // unless the caller cancelled while an earlier wait for room was completing.
      if (held.requested()) return done(asio::error::operation_aborted);
      return wait_writable(datagrams.subspan(next), sent, std::move(h), held);
    } else if (!retried) {
      retried = true;  // ICMP feedback of an earlier datagram, reported once (see flush)
    } else {
      ++next;  // this one really fails: skip it
      retried = false;
    }
  }
  done({});
}

void batch_socket::state::wait_writable(std::span<const outgoing_datagram> rest, std::size_t sent, datagram_handler h,
                                        held_cancellation held) {
  if (!held.holding()) held = held_cancellation::hold(asio::get_associated_cancellation_slot(h));
  socket.async_wait(asio::socket_base::wait_write,
                    asio::bind_cancellation_slot(held.inner(), [self = shared_from_this(), rest, sent, h = std::move(h),
                                                                held](error_code ec) mutable {
                      if (!ec && !self->socket.is_open()) ec = errc::socket_closed;
                      if (ec) {
                        held.release();
                        return self->complete(std::move(h), ec, sent);
                      }
                      self->flush();  // datagrams queued before this batch go first
                      self->send_batch(rest, sent, std::move(h), true, held);
                    }));
}

batch_socket::batch_socket(asio::ip::udp::socket socket, std::size_t batch, bool queued)
    : s_(std::make_shared<state>(std::move(socket), batch, queued)) {}

batch_socket::~batch_socket() { close(); }

asio::any_io_executor batch_socket::get_executor() { return s_->socket.get_executor(); }

endpoint batch_socket::local_endpoint() const {
  error_code ec;
  endpoint local = s_->socket.local_endpoint(ec);
  return ec ? endpoint{} : local;
}

bool batch_socket::is_open() const { return s_->socket.is_open(); }

void batch_socket::close() {
  if (!s_->socket.is_open()) return;
  s_->flush();
  error_code ignored;
  s_->socket.close(ignored);
  s_->in.count = s_->in.next = 0;
}

void batch_socket::async_send_to(asio::const_buffer data, const endpoint& destination, datagram_handler handler) {
  state& s = *s_;
  const endpoint to = socket_form(destination, s.v6);
  if (!s.socket.is_open()) return s.post(std::move(handler), errc::socket_closed, 0);
  if (!s.queued || data.size() > max_datagram || !runs_on(handler, s.socket.get_executor())) {
    s.flush();  // keep the order
    if (runs_on(handler, s.socket.get_executor()))
      return s.socket.async_send_to(data, to, asio::bind_executor(s.socket.get_executor(), std::move(handler)));
    return s.socket.async_send_to(data, to, std::move(handler));
  }
  if (s.out.count == s.out.msgs.size()) s.flush();
  if (s.out.count == s.out.msgs.size()) {
    // Still full (the kernel's send buffer is): asio's own send waits for room.
    return s.socket.async_send_to(data, to, asio::bind_executor(s.socket.get_executor(), std::move(handler)));
  }
  const std::size_t i = s.out.count++;
  std::memcpy(s.out.bytes[i].data(), data.data(), data.size());
  std::memcpy(&s.out.names[i], to.data(), to.size());
  s.out.iov[i] = {s.out.bytes[i].data(), data.size()};
  s.out.msgs[i].msg_hdr = {};
  s.out.msgs[i].msg_hdr.msg_name = &s.out.names[i];
  s.out.msgs[i].msg_hdr.msg_namelen = static_cast<socklen_t>(to.size());
  s.out.msgs[i].msg_hdr.msg_iov = &s.out.iov[i];
  s.out.msgs[i].msg_hdr.msg_iovlen = 1;
  if (s.out.count == s.out.msgs.size()) s.flush();
  else if (s.in.count == 0 && !s.waiting) s.schedule_flush();
  else if (s.in.count == 0) s.flush();  // the receive loop is parked: nothing to wait for
  else s.schedule_flush();
  s.post(std::move(handler), {}, data.size());
}

void batch_socket::async_receive_from(asio::mutable_buffer data, endpoint& from, datagram_handler handler) {
  state& s = *s_;
  if (!s.socket.is_open()) return s.post(std::move(handler), errc::socket_closed, 0);
  if (s.queued) return s.receive(data, from, std::move(handler));
  if (runs_on(handler, s.socket.get_executor()))
    return s.socket.async_receive_from(data, from, asio::bind_executor(s.socket.get_executor(), std::move(handler)));
  s.socket.async_receive_from(data, from, std::move(handler));
}

void batch_socket::async_receive_batch(std::span<received_datagram> slots, datagram_handler handler) {
  if (!s_->socket.is_open()) return s_->post(std::move(handler), errc::socket_closed, 0);
  if (slots.empty()) return s_->post(std::move(handler), {}, 0);
  s_->receive_batch(slots, std::move(handler));
}

void batch_socket::async_send_batch(std::span<const outgoing_datagram> datagrams, datagram_handler handler) {
  state& s = *s_;
  if (!s.socket.is_open()) return s.post(std::move(handler), errc::socket_closed, 0);
  if (datagrams.empty()) return s.post(std::move(handler), {}, 0);
  s.flush();  // the datagrams queued before go first
  // Those are still waiting for room in the kernel's buffer: so does this batch.
  if (s.out.count > 0) return s.wait_writable(datagrams, 0, std::move(handler), {});
  s.send_batch(datagrams, 0, std::move(handler), false);
}

}  // namespace punch::udp
