// How the peer session reports an expected failure (private header): as a value, never by
// throwing. A failure is the project's error code and a message that names what failed;
// an outcome<T> is a T or a failure. Public operations end with deliver(): under the default
// token (use_awaitable) the failure is thrown as a system_error carrying that message, under
// any other token only its code reaches the handler (punch/async.hpp).
#pragma once

#include "punch/error.hpp"

#include <string>
#include <utility>
#include <variant>

namespace punch::detail {

struct failure {
  error_code code;
  std::string what;
};

inline failure fail(error_code ec, std::string what) { return {ec, std::move(what)}; }
inline failure fail(errc e, std::string what) { return {make_error_code(e), std::move(what)}; }

// A T, or the failure that prevented it. Tested like a pointer: true when it holds a T.
template <typename T>
class [[nodiscard]] outcome {
public:
  outcome(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  outcome(failure f) : v_(std::in_place_index<1>, std::move(f)) {}

  explicit operator bool() const noexcept { return v_.index() == 0; }
  T& operator*() & { return std::get<0>(v_); }
  T&& operator*() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  failure& error() & { return std::get<1>(v_); }
  const failure& error() const& { return std::get<1>(v_); }
  failure&& error() && { return std::get<1>(std::move(v_)); }

private:
  std::variant<T, failure> v_;
};

// Nothing, or the failure. True on success, as above.
template <>
class [[nodiscard]] outcome<void> {
public:
  outcome() = default;
  outcome(failure f) : f_(std::move(f)), failed_(true) {}

  explicit operator bool() const noexcept { return !failed_; }
  failure& error() & { return f_; }
  failure&& error() && { return std::move(f_); }

private:
  failure f_;
  bool failed_ = false;
};

// The end of a public operation that failed: throws (ec == nullptr: the caller awaits with
// the default token, and the exception keeps the message) or stores the code in *ec.
template <typename T = void>
T deliver(failure f, error_code* ec) {
  if (!ec) throw system_error(f.code, f.what);
  *ec = f.code;
  if constexpr (!std::is_void_v<T>) return T{};
}

// The end of a public operation: its value, or deliver()'s.
template <typename T>
T delivered(outcome<T>&& o, error_code* ec) {
  if (o) return std::move(*o);
  return deliver<T>(std::move(o).error(), ec);
}

}  // namespace punch::detail
