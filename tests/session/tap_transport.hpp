// A transport that wraps another and lets a test meddle with every datagram a socket sends:
// change its bytes, send it twice, or drop it — an attacker on the path, for the trust tests —
// or hold it back and send it later (inject), as a network that reorders does.
#pragma once

#include "punch/transport.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <functional>
#include <memory>
#include <span>
#include <vector>

namespace punch::test {

class tap_transport : public transport {
public:
  // Called with every datagram before it leaves; returns how many copies to send (0 drops
  // it). It may change the bytes.
  using hook = std::function<int(std::vector<std::byte>& datagram, const endpoint& to)>;

  tap_transport(transport& inner, hook h) : inner_(inner), hook_(std::move(h)) {}

  std::string name() const override { return "tap(" + inner_.name() + ")"; }
  asio::any_io_executor get_executor() override { return inner_.get_executor(); }
  datagram_socket open(const endpoint& local, error_code& ec) override {
    auto s = inner_.open(local, ec);
    if (ec) return {};
    ++*opened_;
    auto impl = std::make_unique<socket>(std::move(s), hook_, live_);
    if (!first_) first_ = impl->inner();
    return datagram_socket(std::move(impl));
  }
  using transport::open;

  // Sends `datagram` to `to` from the first socket this transport opened (the session's),
  // without the hook: a datagram the hook held back, now let through.
  void inject(std::vector<std::byte> datagram, const endpoint& to) {
    auto copy = std::make_shared<std::vector<std::byte>>(std::move(datagram));
    first_->async_send_to(asio::buffer(*copy), to, datagram_handler([copy](error_code, std::size_t) {}));
  }

  // Sockets opened through this transport, in all, and still open.
  std::size_t opened() const { return *opened_; }
  std::size_t open_now() const { return *live_; }

private:
  class socket : public socket_impl {
  public:
    socket(datagram_socket inner, hook& h, std::shared_ptr<std::size_t> live)
        : inner_(std::move(inner)), hook_(h), live_(std::move(live)) {
      ++*live_;
    }
    ~socket() override { close(); }
    socket_impl* inner() { return inner_.impl(); }
    asio::any_io_executor get_executor() override { return inner_.get_executor(); }
    endpoint local_endpoint() const override { return inner_.local_endpoint(); }
    bool is_open() const override { return inner_.is_open(); }
    void close() override {
      if (counted_) --*live_;
      counted_ = false;
      inner_.close();
    }
    void async_receive_from(asio::mutable_buffer data, endpoint& from, datagram_handler handler) override {
      inner_.impl()->async_receive_from(data, from, std::move(handler));
    }
    void async_send_to(asio::const_buffer data, const endpoint& to, datagram_handler handler) override {
      auto copy = std::make_shared<std::vector<std::byte>>(static_cast<const std::byte*>(data.data()),
                                                           static_cast<const std::byte*>(data.data()) + data.size());
      const int copies = hook_(*copy, to);
      const std::size_t size = data.size();
      for (int i = 1; i < copies; ++i)
        inner_.impl()->async_send_to(asio::buffer(*copy), to, datagram_handler([copy](error_code, std::size_t) {}));
      if (copies <= 0) {
        // Dropped on the path: the sender cannot tell.
        asio::post(inner_.get_executor(),
                   [h = std::move(handler), size]() mutable { std::move(h)(error_code{}, size); });
        return;
      }
      inner_.impl()->async_send_to(asio::buffer(*copy), to, datagram_handler(
          [h = std::move(handler), copy, size](error_code ec, std::size_t) mutable { std::move(h)(ec, size); }));
    }

  private:
    datagram_socket inner_;
    hook& hook_;
    std::shared_ptr<std::size_t> live_;
    bool counted_ = true;
  };

  transport& inner_;
  hook hook_;
  socket_impl* first_ = nullptr;
  std::shared_ptr<std::size_t> opened_ = std::make_shared<std::size_t>(0);
  std::shared_ptr<std::size_t> live_ = std::make_shared<std::size_t>(0);
};

// A firewall for tap_transport: while `closed`, only datagrams to `allowed` go through.
inline tap_transport::hook firewall(const bool& closed, std::vector<endpoint> allowed) {
  return [&closed, allowed = std::move(allowed)](std::vector<std::byte>&, const endpoint& to) {
    return !closed || std::find(allowed.begin(), allowed.end(), to) != allowed.end() ? 1 : 0;
  };
}

}  // namespace punch::test
