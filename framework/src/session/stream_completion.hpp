// How a stream's operations complete (private header): through the session's executor, or,
// for an empty handle, the handler's own; a waiting read or write ends with
// operation_aborted when its handler's cancellation slot emits. Shared by the byte
// operations (stream.cpp) and the message operations (stream_message.cpp).
#pragma once

#include "session/association.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include <memory>

namespace punch::detail {

template <typename Handler, typename... Args>
void complete(const asio::any_io_executor& ex, Handler h, Args... args) {
  asio::post(ex, asio::append(std::move(h), args...));
}
// A handle without a state has no session executor: the handler's own runs the completion.
template <typename Handler, typename... Args>
void complete_now(Handler h, Args... args) {
  auto ex = asio::get_associated_executor(h);
  asio::dispatch(ex, asio::append(std::move(h), args...));
}
// The waiting read or write (`Op`) ends with operation_aborted when its handler's slot emits.
template <auto Op>
void cancel_through(const std::shared_ptr<stream_state>& s, asio::cancellation_slot slot) {
  if (!slot.is_connected()) return;
  slot.assign([weak = std::weak_ptr(s)](asio::cancellation_type) {
    auto s = weak.lock();
    if (!s || !((*s).*Op)) return;
    auto op = std::move(*((*s).*Op));
    ((*s).*Op).reset();
    complete(s->ex, std::move(op.handler), error_code(asio::error::operation_aborted), std::size_t{0});
  });
}

// A read or write that completes on its own: its slot must not cancel the next one.
template <typename Handler, typename... Args>
void complete_waiting(const asio::any_io_executor& ex, Handler h, Args... args) {
  if (auto slot = asio::get_associated_cancellation_slot(h); slot.is_connected()) slot.clear();
  complete(ex, std::move(h), args...);
}

}  // namespace punch::detail
