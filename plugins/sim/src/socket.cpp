// Sim sockets: bounded receive queues, pending receives with per-operation cancellation,
// completions always posted to the handler's associated executor.
#include "socket.hpp"

#include "punch/plugins/sim/network.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>

#include <algorithm>
#include <cstring>
#include <utility>

namespace punch::sim::detail {
namespace {

// The largest UDP payload IPv4 can carry (65535 - 8 - 20).
constexpr std::size_t max_datagram = 65507;

// Completions never run inside the call that started the operation: post through the
// network's executor, which hands over to the handler's associated executor.
void post_completion(datagram_handler handler, const asio::any_io_executor& io,
                     error_code ec, std::size_t bytes) {
  asio::post(io, asio::append(std::move(handler), ec, bytes));
}

std::size_t copy_truncated(asio::mutable_buffer to, const std::vector<std::byte>& from) {
  const std::size_t n = std::min(to.size(), from.size());
  if (n != 0) std::memcpy(to.data(), from.data(), n);
  return n;
}

}  // namespace

sim_socket::sim_socket(host& h, const endpoint& local)
    : host_(&h), local_(local), executor_(h.network().get_executor()) {}

sim_socket::~sim_socket() { close(); }

void sim_socket::close() {
  if (host_) host_->ports_.erase(local_.port());
  detach();
}

void sim_socket::detach() {
  host_ = nullptr;
  queue_.clear();
  abort_all();
}

void sim_socket::abort_all() {
  auto pending = std::move(receives_->pending);
  receives_->pending.clear();
  for (auto& op : pending) complete(op, asio::error::operation_aborted, 0);
}

void sim_socket::complete(pending_receive& op, error_code ec, std::size_t bytes) {
  // Our cancellation handler must not outlive the operation in the handler's slot.
  if (op.slot.is_connected()) op.slot.clear();
  post_completion(std::move(op.handler), executor_, ec, bytes);
}

void sim_socket::cancel(receive_state& state, std::uint64_t id) {
  auto it = std::find_if(state.pending.begin(), state.pending.end(),
                         [id](const pending_receive& op) { return op.id == id; });
  if (it == state.pending.end()) return;
  pending_receive op = std::move(*it);
  state.pending.erase(it);
  // Called from inside the slot's handler: leave the slot alone (clearing it would destroy
  // the handler that is running); the next operation on that slot replaces it.
  post_completion(std::move(op.handler), op.io_work, asio::error::operation_aborted, 0);
}

void sim_socket::async_send_to(asio::const_buffer data, const endpoint& to,
                               datagram_handler handler) {
  if (!host_) return post_completion(std::move(handler), executor_, errc::socket_closed, 0);
  if (data.size() > max_datagram) {
    return post_completion(std::move(handler), executor_, asio::error::message_size, 0);
  }
  host_->network().send(*host_, local_, to, data);
  post_completion(std::move(handler), executor_, {}, data.size());
}

void sim_socket::async_receive_from(asio::mutable_buffer data, endpoint& from,
                                    datagram_handler handler) {
  if (!host_) return post_completion(std::move(handler), executor_, errc::socket_closed, 0);
  if (!queue_.empty()) {
    datagram d = std::move(queue_.front());
    queue_.pop_front();
    from = d.from;
    return post_completion(std::move(handler), executor_, {}, copy_truncated(data, d.bytes));
  }
  const std::uint64_t id = ++next_id_;
  auto slot = asio::get_associated_cancellation_slot(handler);
  auto handler_work = asio::prefer(asio::get_associated_executor(handler, executor_),
                                   asio::execution::outstanding_work.tracked);
  auto io_work = asio::prefer(executor_, asio::execution::outstanding_work.tracked);
  receives_->pending.push_back(pending_receive{id, data, &from, std::move(handler), slot,
                                               std::move(io_work), std::move(handler_work)});
  if (slot.is_connected()) {
    slot.assign([state = std::weak_ptr<receive_state>(receives_), id](asio::cancellation_type t) {
      // Terminal, partial and total cancellation all may abandon a receive: nothing is lost.
      if ((t & (asio::cancellation_type::terminal | asio::cancellation_type::partial |
                asio::cancellation_type::total)) == asio::cancellation_type::none) {
        return;
      }
      if (auto s = state.lock()) cancel(*s, id);
    });
  }
}

bool sim_socket::deliver(const endpoint& from, std::vector<std::byte>&& payload) {
  if (!receives_->pending.empty()) {
    pending_receive op = std::move(receives_->pending.front());
    receives_->pending.pop_front();
    *op.from = from;
    complete(op, {}, copy_truncated(op.buffer, payload));
    return true;
  }
  if (queue_.size() >= host_->receive_queue_limit()) return false;
  queue_.push_back(datagram{from, std::move(payload)});
  return true;
}

asio::any_io_executor host_transport::get_executor() { return host_.network().get_executor(); }

datagram_socket host_transport::open(const endpoint& local, error_code& ec) {
  ec.clear();
  const auto addresses = host_.addresses();
  if (!local.address().is_unspecified() &&
      std::find(addresses.begin(), addresses.end(), local.address()) == addresses.end()) {
    ec = errc::address_not_available;
    return {};
  }
  std::uint16_t port = local.port();
  if (port == 0) {
    // Ephemeral ports (RFC 6335 §6: 49152-65535), handed out in order, wrapping.
    constexpr std::uint32_t first = 49152, count = 65536 - first;
    bool found = false;
    for (std::uint32_t i = 0; i < count && !found; ++i) {
      const auto candidate =
          static_cast<std::uint16_t>(first + (host_.next_ephemeral_ - first + i) % count);
      if (!host_.ports_.contains(candidate)) {
        port = candidate;
        found = true;
      }
    }
    if (!found) {
      ec = errc::address_in_use;
      return {};
    }
    host_.next_ephemeral_ =
        static_cast<std::uint16_t>(port == 65535 ? first : static_cast<std::uint32_t>(port) + 1);
  } else if (host_.ports_.contains(port)) {
    ec = errc::address_in_use;
    return {};
  }
  // "0.0.0.0" means the host's (first) address; "::" stays unspecified: dual-stack.
  const auto bound = local.address().is_unspecified() && local.address().is_v4() ? host_.address() : local.address();
  auto socket = std::make_unique<sim_socket>(host_, endpoint(bound, port));
  host_.ports_[port] = socket.get();
  return datagram_socket(std::move(socket));
}

}  // namespace punch::sim::detail
