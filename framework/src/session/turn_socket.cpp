// What goes through the session's TURN allocation: the socket that wraps a datagram for a peer
// (ChannelData on a bound channel, else a Send indication that starts a ChannelBind), and the
// receive side that unwraps ChannelData and Data indications from the server and hands the
// peer's datagram (a punch check or an encrypted frame) to the demultiplexer as if it had come
// from the peer, on the pair `turn_via` (RFC 8656 §11, §12).
#include "session/session_state.hpp"

#include "session/random_ids.hpp"
#include "session/turn_client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include <vector>

namespace punch::detail {

namespace {

class turn_socket final : public socket_impl {
public:
  turn_socket(std::weak_ptr<session_state> s, asio::any_io_executor ex) : s_(std::move(s)), ex_(std::move(ex)) {}

  asio::any_io_executor get_executor() override { return ex_; }
  endpoint local_endpoint() const override {
    auto s = s_.lock();
    return s && s->turn ? s->turn->relayed : endpoint{};
  }
  bool is_open() const override {
    auto s = s_.lock();
    return open_ && s && s->turn && s->turn->live;
  }
  void close() override { open_ = false; }

  void async_send_to(asio::const_buffer data, const endpoint& to, datagram_handler handler) override {
    auto s = s_.lock();
    if (!s || !is_open() || !s->socket.is_open()) return complete(std::move(handler), errc::socket_closed);
    turn_allocation& t = *s->turn;
    const std::span<const std::byte> payload(static_cast<const std::byte*>(data.data()), data.size());
    // Owned by the send's handler. The relayed path is the fallback, not the hot path that the
    // allocation-free tests measure (those run on direct paths).
    auto out = std::make_shared<std::vector<std::byte>>(payload.size() + 64);
    std::span<const std::byte> wire;
    error_code ec;
    if (auto it = t.channel_of.find(to); it != t.channel_of.end()) {
      wire = turn::encode_channel_data(it->second, payload, *out, ec);
    } else {
      // RFC 8656 §11: indications carry no integrity; the server checks our permission for `to`.
      stun::builder b(*out, stun::message_class::indication, turn::method::send, detail::random_transaction_id());
      b.add_xor_address(turn::attr::xor_peer_address, to);
      b.add(turn::attr::data, payload);
      wire = b.finish();
      ec = b.error();
      asio::co_spawn(s->ex, s->turn_bind(to), asio::detached);
    }
    if (ec) return complete(std::move(handler), ec);
    const std::size_t n = payload.size();
    s->socket.async_send_to(asio::buffer(wire.data(), wire.size()), t.server.address,
                            [out, n, h = std::move(handler)](error_code e, std::size_t) mutable {
                              std::move(h)(e, e ? 0 : n);
                            });
  }

  // Nothing reads this socket: the session's receive loop takes the server's datagrams.
  void async_receive_from(asio::mutable_buffer, endpoint&, datagram_handler handler) override {
    complete(std::move(handler), asio::error::operation_not_supported);
  }

private:
  void complete(datagram_handler handler, error_code ec) {
    asio::post(ex_, [h = std::move(handler), ec]() mutable { std::move(h)(ec, 0); });
  }

  std::weak_ptr<session_state> s_;
  asio::any_io_executor ex_;
  bool open_ = true;
};

}  // namespace

datagram_socket make_turn_socket(std::weak_ptr<session_state> s) {
  auto ex = s.lock()->ex;
  return datagram_socket(std::make_unique<turn_socket>(std::move(s), std::move(ex)));
}

asio::awaitable<bool> session_state::handle_turn(std::span<std::byte> d, const endpoint& from) {
  if (!turn || !turn->live || from != turn->server.address) co_return false;
  std::span<std::byte> inner;
  endpoint peer;
  error_code ec;
  if (turn::looks_like_channel_data(d)) {
    auto cd = turn::decode_channel_data(d, ec);
    if (!cd) co_return true;
    auto it = turn->peer_of.find(cd->channel);
    if (it == turn->peer_of.end()) co_return true;  // not a channel of ours
    peer = it->second;
    inner = d.subspan(turn::channel_data_header_size, cd->data.size());
  } else {
    auto m = stun::message::parse(d, ec);
    if (!m || m->cls() != stun::message_class::indication || m->method() != turn::method::data) co_return false;
    auto p = m->find(turn::attr::xor_peer_address);
    auto data = m->find(turn::attr::data);
    if (!p || !data) co_return true;
    auto ep = stun::decode_xor_address(*p, m->id(), ec);
    if (!ep) co_return true;
    peer = unmapped(*ep);
    // The DATA value lies inside `d`: the same bytes, writable (frames are opened in place).
    inner = d.subspan(static_cast<std::size_t>(data->value.data() - d.data()), data->value.size());
  }
  if (wire::looks_like_frame(inner)) {
    handle_frame(inner, peer, turn_via);
  } else if (stun::looks_like_stun(inner)) {
    co_await handle_stun(inner, peer, turn_via);
  }
  co_return true;
}

}  // namespace punch::detail
