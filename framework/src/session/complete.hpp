// Runs a public operation's coroutine for a completion handler of any token (private header):
// the coroutine reports its failure in an error_code, which the handler receives first.
// The handler's cancellation slot cancels the coroutine, which then completes with
// asio::error::operation_aborted; the handler runs on its associated executor.
#pragma once

#include "punch/async.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>

#include <exception>
#include <tuple>
#include <utility>

namespace punch::detail {

// A coroutine ended by an exception: a cancellation (operation_aborted, from a timer or an
// event) is a code like any other; anything else is a bug and propagates from the handler.
inline error_code code_of(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const system_error& x) {
    return x.code();
  }
}

// `body(error_code*)` returns the operation's awaitable, which stores its failure in the
// error_code instead of throwing.
template <typename T, typename Body>
void spawn_for(const asio::any_io_executor& ex, Body body, completion_handler<T> handler) {
  auto slot = asio::get_associated_cancellation_slot(handler);
  auto where = asio::get_associated_executor(handler, ex);
  if constexpr (std::is_void_v<T>) {
    asio::co_spawn(
        ex,
        [body = std::move(body)]() -> asio::awaitable<error_code> {
          error_code ec;
          co_await body(&ec);
          co_return ec;
        },
        asio::bind_cancellation_slot(
            slot, asio::bind_executor(where, [h = std::move(handler)](std::exception_ptr e, error_code ec) mutable {
              std::move(h)(e ? code_of(e) : ec);
            })));
  } else {
    asio::co_spawn(
        ex,
        [body = std::move(body)]() -> asio::awaitable<std::tuple<error_code, T>> {
          error_code ec;
          T value = co_await body(&ec);
          co_return std::tuple<error_code, T>{ec, std::move(value)};
        },
        asio::bind_cancellation_slot(
            slot, asio::bind_executor(where, [h = std::move(handler)](std::exception_ptr e,
                                                                      std::tuple<error_code, T> r) mutable {
              if (e) return std::move(h)(code_of(e), T{});
              std::apply(std::move(h), std::move(r));
            })));
  }
}

}  // namespace punch::detail
