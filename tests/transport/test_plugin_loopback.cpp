// An external transport plugin in one file: "loopback", an in-memory network in which a
// datagram sent to an endpoint arrives at the socket bound there (or nowhere, as with UDP).
// transport_registry_test loads it by path; docs/transports.md quotes it as the worked example.
#include "punch/plugin.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/post.hpp>

#include <cstddef>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <vector>

// transport_registry_test also builds this file claiming another plugin ABI or Boost, to be rejected.
#ifndef TEST_PLUGIN_ABI
#define TEST_PLUGIN_ABI PUNCH_PLUGIN_ABI_VERSION
#endif
#ifndef TEST_PLUGIN_BOOST_VERSION
#define TEST_PLUGIN_BOOST_VERSION BOOST_VERSION
#endif

namespace {

namespace asio = boost::asio;
using punch::endpoint;
using punch::error_code;

class loopback_socket;

// Who is bound where; shared by the transport and its sockets, so either may go first.
struct network {
  std::map<endpoint, loopback_socket*> bound;
  unsigned short next_port = 49152;
};

class loopback_socket final : public punch::socket_impl {
public:
  loopback_socket(asio::any_io_executor ex, std::shared_ptr<network> net, endpoint local)
      : ex_(std::move(ex)), net_(std::move(net)), local_(local) {
    net_->bound[local_] = this;
  }
  ~loopback_socket() override { close(); }

  asio::any_io_executor get_executor() override { return ex_; }
  endpoint local_endpoint() const override { return local_; }
  bool is_open() const override { return open_; }

  void close() override {
    if (!open_) return;
    open_ = false;
    net_->bound.erase(local_);
    inbox_.clear();
    while (!receives_.empty())
      complete(take(receives_.begin()), asio::error::operation_aborted, 0);
  }

  void async_send_to(asio::const_buffer data, const endpoint& to,
                     punch::datagram_handler handler) override {
    if (!open_) return complete(std::move(handler), punch::errc::socket_closed, 0);
    if (auto peer = net_->bound.find(to); peer != net_->bound.end())
      peer->second->deliver(data, local_);
    complete(std::move(handler), {}, data.size());
  }

  void async_receive_from(asio::mutable_buffer data, endpoint& from,
                          punch::datagram_handler handler) override {
    if (!open_) return complete(std::move(handler), punch::errc::socket_closed, 0);
    if (!inbox_.empty()) {
      from = inbox_.front().from;
      std::size_t n = asio::buffer_copy(data, asio::buffer(inbox_.front().bytes));
      inbox_.pop_front();
      return complete(std::move(handler), {}, n);
    }
    auto slot = handler.get_cancellation_slot();
    auto op = receives_.insert(receives_.end(), receive_op{data, &from, std::move(handler)});
    // Every cancellation type is safe here: a receive that has not completed took nothing.
    if (slot.is_connected())
      slot.assign([this, op](asio::cancellation_type) { cancel(op); });
  }

private:
  static constexpr std::size_t max_inbox = 64;

  struct datagram {
    std::vector<std::byte> bytes;
    endpoint from;
  };
  struct receive_op {
    asio::mutable_buffer data;
    endpoint* from;
    punch::datagram_handler handler;
  };

  void deliver(asio::const_buffer data, const endpoint& from) {
    if (receives_.empty()) {
      if (inbox_.size() == max_inbox) return;  // a full socket buffer drops, as UDP does
      const auto* bytes = static_cast<const std::byte*>(data.data());
      inbox_.push_back({{bytes, bytes + data.size()}, from});
      return;
    }
    receive_op& op = receives_.front();
    *op.from = from;
    std::size_t n = asio::buffer_copy(op.data, data);
    complete(take(receives_.begin()), {}, n);
  }

  // Detaches a pending receive from its cancellation slot before its handler moves on.
  punch::datagram_handler take(std::list<receive_op>::iterator op) {
    punch::datagram_handler handler = std::move(op->handler);
    handler.get_cancellation_slot().clear();
    receives_.erase(op);
    return handler;
  }

  // Called from the slot's handler, which take() destroys: only parameters are used after.
  void cancel(std::list<receive_op>::iterator op) {
    complete(take(op), asio::error::operation_aborted, 0);
  }

  // Never inline: the handler runs later, on its associated executor (ours by default).
  void complete(punch::datagram_handler handler, error_code ec, std::size_t n) {
    asio::post(ex_, asio::append(std::move(handler), ec, n));
  }

  asio::any_io_executor ex_;
  std::shared_ptr<network> net_;
  endpoint local_;
  bool open_ = true;
  std::deque<datagram> inbox_;
  std::list<receive_op> receives_;
};

class loopback_transport final : public punch::transport {
public:
  explicit loopback_transport(asio::any_io_executor ex) : ex_(std::move(ex)) {}

  std::string name() const override { return "loopback"; }
  asio::any_io_executor get_executor() override { return ex_; }

  using punch::transport::open;
  punch::datagram_socket open(const endpoint& local, error_code& ec) override {
    ec.clear();
    endpoint where = local;
    if (where.address().is_unspecified())
      where.address(where.address().is_v6() ? asio::ip::address(asio::ip::address_v6::loopback())
                                            : asio::ip::address_v4::loopback());
    if (where.port() == 0) {
      do where.port(net_->next_port++);
      while (net_->bound.contains(where));
    }
    if (net_->bound.contains(where)) {
      ec = punch::errc::address_in_use;
      return {};
    }
    return punch::datagram_socket{std::make_unique<loopback_socket>(ex_, net_, where)};
  }

private:
  asio::any_io_executor ex_;
  std::shared_ptr<network> net_ = std::make_shared<network>();
};

std::unique_ptr<punch::transport> make(asio::any_io_executor ex,
                                       const punch::transport_options& options,
                                       error_code& ec) {
  ec.clear();
  if (!options.empty()) {
    ec = punch::errc::invalid_transport_option;
    return nullptr;
  }
  return std::make_unique<loopback_transport>(std::move(ex));
}

const punch::plugin_descriptor descriptor{
    .abi_version = TEST_PLUGIN_ABI,
    .boost_version = TEST_PLUGIN_BOOST_VERSION,
    .name = "loopback",
    .description = "in-memory loopback network (the example plugin)",
    .make = &make,
};

}  // namespace

extern "C" PUNCH_PLUGIN_EXPORT const punch::plugin_descriptor* punch_transport_plugin() {
  return &descriptor;
}
