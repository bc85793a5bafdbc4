// An in-process transport for the fuzz targets: one socket whose inbound datagrams the fuzzer
// hands in with deliver() and whose outbound datagrams it reads back from sent(). Nothing
// travels anywhere; every completion is posted to the io_context that the fuzzer polls, so a
// broker or a session runs its real receive loop, demultiplexer and handlers on fuzzed input.
#pragma once

#include "punch/transport.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/post.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace fuzz {

namespace asio = boost::asio;
using punch::datagram_handler;
using punch::endpoint;
using punch::error_code;

struct datagram {
  endpoint peer;  // destination of a sent datagram, source of a delivered one
  std::vector<std::byte> bytes;
};

// What the fake socket shares with the fuzzer; outlives the socket.
struct wire_log {
  struct pending_receive {
    std::uint64_t id;
    asio::mutable_buffer buffer;
    endpoint* from;
    datagram_handler handler;
  };
  asio::any_io_executor ex;
  endpoint local;
  bool open = true;
  // std::list: erasing a receive never move-assigns a datagram_handler (see transport.hpp).
  std::list<pending_receive> receives;
  std::uint64_t next_receive = 0;
  std::deque<datagram> inbound;  // delivered while no receive was pending
  std::vector<datagram> sent;

  static constexpr std::size_t max_inbound = 64;

  // Completes one pending receive with `d`, or queues it (dropped beyond max_inbound, as a
  // full socket buffer does).
  void deliver(std::span<const std::byte> d, const endpoint& from) {
    if (!open) return;
    if (receives.empty()) {
      if (inbound.size() < max_inbound) inbound.push_back({from, {d.begin(), d.end()}});
      return;
    }
    complete(receives.begin(), d, from);
  }

  void complete(std::list<pending_receive>::iterator it, std::span<const std::byte> d, const endpoint& from) {
    *it->from = from;
    const std::size_t n = asio::buffer_copy(it->buffer, asio::buffer(d.data(), d.size()));
    auto handler = std::move(it->handler);
    receives.erase(it);
    handler.get_cancellation_slot().clear();
    asio::post(ex, asio::append(std::move(handler), error_code{}, n));
  }

  void abort(std::list<pending_receive>::iterator it) {
    auto handler = std::move(it->handler);
    receives.erase(it);
    handler.get_cancellation_slot().clear();
    asio::post(ex, asio::append(std::move(handler), error_code{asio::error::operation_aborted}, std::size_t{0}));
  }

  void close() {
    open = false;
    inbound.clear();
    while (!receives.empty()) abort(receives.begin());
  }
};

class fake_socket final : public punch::socket_impl {
public:
  explicit fake_socket(std::shared_ptr<wire_log> log) : log_(std::move(log)) {}
  ~fake_socket() override { log_->close(); }

  asio::any_io_executor get_executor() override { return log_->ex; }
  endpoint local_endpoint() const override { return log_->local; }
  bool is_open() const override { return log_->open; }
  void close() override { log_->close(); }

  void async_send_to(asio::const_buffer data, const endpoint& to, datagram_handler handler) override {
    if (!log_->open) {
      asio::post(log_->ex, asio::append(std::move(handler), error_code{punch::errc::socket_closed}, std::size_t{0}));
      return;
    }
    const auto* p = static_cast<const std::byte*>(data.data());
    log_->sent.push_back({to, {p, p + data.size()}});
    asio::post(log_->ex, asio::append(std::move(handler), error_code{}, data.size()));
  }

  void async_receive_from(asio::mutable_buffer data, endpoint& from, datagram_handler handler) override {
    auto& log = *log_;
    if (!log.open) {
      asio::post(log.ex, asio::append(std::move(handler), error_code{punch::errc::socket_closed}, std::size_t{0}));
      return;
    }
    const std::uint64_t id = log.next_receive++;
    auto slot = handler.get_cancellation_slot();
    log.receives.push_back({id, data, &from, datagram_handler(std::move(handler))});
    if (!log.inbound.empty()) {
      const datagram d = std::move(log.inbound.front());
      log.inbound.pop_front();
      log.complete(std::prev(log.receives.end()), d.bytes, d.peer);
      return;
    }
    if (slot.is_connected()) {
      slot.assign([weak = std::weak_ptr<wire_log>(log_), id](asio::cancellation_type type) {
        if (type == asio::cancellation_type::none) return;
        auto l = weak.lock();
        if (!l) return;
        for (auto it = l->receives.begin(); it != l->receives.end(); ++it) {
          if (it->id == id) {
            l->abort(it);  // destroys this lambda: nothing of it is read after
            return;
          }
        }
      });
    }
  }

private:
  std::shared_ptr<wire_log> log_;
};

// Opens fake sockets; the last one opened is `last`.
class fake_transport final : public punch::transport {
public:
  explicit fake_transport(asio::any_io_executor ex) : ex_(std::move(ex)) {}
  std::string name() const override { return "fake"; }
  asio::any_io_executor get_executor() override { return ex_; }
  using punch::transport::open;
  punch::datagram_socket open(const endpoint& local, error_code& ec) override {
    ec.clear();
    last = std::make_shared<wire_log>();
    last->ex = ex_;
    last->local = local;
    if (last->local.port() == 0) last->local.port(40000);
    return punch::datagram_socket(std::make_unique<fake_socket>(last));
  }

  std::shared_ptr<wire_log> last;

private:
  asio::any_io_executor ex_;
};

// Reads a fuzz input front to back; past the end every read yields zeros.
class input_reader {
public:
  explicit input_reader(std::span<const std::byte> in) : in_(in) {}
  bool empty() const noexcept { return pos_ >= in_.size(); }
  std::uint8_t u8() noexcept { return pos_ < in_.size() ? std::to_integer<std::uint8_t>(in_[pos_++]) : 0; }
  std::uint16_t u16() noexcept {
    const auto hi = u8();
    return static_cast<std::uint16_t>((hi << 8) | u8());
  }
  // Up to `n` bytes (fewer at the end of the input).
  std::span<const std::byte> bytes(std::size_t n) noexcept {
    const std::size_t take = std::min(n, in_.size() - std::min(pos_, in_.size()));
    auto out = in_.subspan(std::min(pos_, in_.size()), take);
    pos_ += take;
    return out;
  }

private:
  std::span<const std::byte> in_;
  std::size_t pos_ = 0;
};

}  // namespace fuzz
