// How the session's and the connection's operations take any asio completion token.
//
// Each operation completes with `error_code` first: void(error_code, T), or void(error_code)
// when it has no result. So
//   co_await s.connect("bob");                                       // throws system_error
//   auto [ec, c] = co_await s.connect("bob", asio::as_tuple(asio::use_awaitable));  // no throw
//   s.connect("bob", [](error_code ec, punch::connection c) { ... });  // a callback
//   auto op = s.connect("bob", asio::deferred);                      // started when awaited
// and cancellation is asio's: the token's cancellation slot (awaitable_operators `||` with a
// timer, asio::bind_cancellation_slot) ends the operation with asio::error::operation_aborted.
//
// The default token, asio::use_awaitable, runs the operation's coroutine directly: its
// system_error's what() names the peer and the broker (`looking up "nobody": broker
// 198.51.100.10:3478 answered 404 ...`). Every other token reaches the same coroutine
// through a non-template function taking asio::any_completion_handler (as the transport's
// sockets do; asio's cpp20/type_erasure example), and gets the code alone.
#pragma once

#include "punch/error.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <type_traits>
#include <utility>

namespace punch {

namespace asio = boost::asio;

// The completion signature of an operation whose result is T (void: none).
template <typename T>
struct completion {
  using signature = void(error_code, T);
};
template <>
struct completion<void> {
  using signature = void(error_code);
};
template <typename T>
using completion_signature = typename completion<T>::signature;
template <typename T>
using completion_handler = asio::any_completion_handler<completion_signature<T>>;

namespace detail {

// Starts an operation for `token`. `direct(error_code*)` returns the operation's awaitable
// (a null pointer: it throws); `start(completion_handler<T>)` starts it for any other token.
template <typename T, typename Token, typename Direct, typename Start>
auto initiate(Token&& token, Direct&& direct, Start&& start) {
  if constexpr (std::is_same_v<std::decay_t<Token>, asio::use_awaitable_t<>>) {
    return std::forward<Direct>(direct)(nullptr);
  } else {
    return asio::async_initiate<Token, completion_signature<T>>(
        [](auto handler, std::decay_t<Start> s) { s(completion_handler<T>(std::move(handler))); }, token,
        std::forward<Start>(start));
  }
}

}  // namespace detail
}  // namespace punch
