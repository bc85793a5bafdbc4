// Test support shared by the wire, broker and relay tests: Boost.Test printers for punch's
// enums and optionals, a random transaction id, and a parsed STUN answer that owns its bytes
// with readers for the attributes the servers send.
#pragma once

#include "punch/error.hpp"
#include "punch/wire/stun.hpp"

#include <boost/test/unit_test.hpp>

#include <sodium.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <vector>

// Boost.Test prints the operands of a failed BOOST_TEST; these make ours printable.
namespace punch {
inline std::ostream& boost_test_print_type(std::ostream& os, errc e) {
  return os << "errc(" << static_cast<int>(e) << ": " << make_error_code(e).message() << ")";
}
}  // namespace punch
namespace punch::stun {
inline std::ostream& boost_test_print_type(std::ostream& out, message_class c) {
  static constexpr const char* names[] = {"request", "indication", "success_response", "error_response"};
  return out << names[static_cast<int>(c) & 3];
}
}  // namespace punch::stun
template <typename T>
struct boost::test_tools::tt_detail::print_log_value<std::optional<T>> {
  void operator()(std::ostream& out, const std::optional<T>& v) {
    if (v)
      out << *v;
    else
      out << "(none)";
  }
};

namespace punch_test {

using bytes = std::vector<std::byte>;

inline punch::stun::transaction_id random_id() {
  punch::stun::transaction_id id;
  randombytes_buf(id.data(), id.size());
  return id;
}

// A parsed answer that owns its bytes.
struct stun_answer {
  bytes data;
  punch::stun::message msg;

  punch::stun::message_class cls() const { return msg.cls(); }
  // The value of the first attribute of `type`; empty if there is none.
  bytes value(std::uint16_t type) const {
    auto a = msg.find(type);
    return a ? bytes(a->value.begin(), a->value.end()) : bytes{};
  }
  std::optional<punch::stun::endpoint> xor_address(std::uint16_t type) const {
    auto a = msg.find(type);
    punch::error_code ec;
    return a ? punch::stun::decode_xor_address(*a, msg.id(), ec) : std::nullopt;
  }
  std::vector<punch::stun::endpoint> all_xor_addresses(std::uint16_t type) const {
    std::vector<punch::stun::endpoint> out;
    punch::error_code ec;
    for (const auto a : msg)
      if (a.type == type)
        if (auto ep = punch::stun::decode_xor_address(a, msg.id(), ec)) out.push_back(*ep);
    return out;
  }
  std::string text(std::uint16_t type) const {
    auto a = msg.find(type);
    return a ? std::string(punch::stun::decode_string(*a)) : std::string{};
  }
  std::optional<std::uint32_t> u32(std::uint16_t type) const {
    auto a = msg.find(type);
    punch::error_code ec;
    return a ? punch::stun::decode_u32(*a, ec) : std::nullopt;
  }
  int error_code() const {
    auto v = error();
    return v ? v->code : 0;
  }
  std::string reason() const {
    auto v = error();
    return v ? std::string(v->reason) : std::string{};
  }

private:
  std::optional<punch::stun::error_value> error() const {
    auto a = msg.find(punch::stun::attr::error_code);
    punch::error_code ec;
    return a ? punch::stun::decode_error_code(*a, ec) : std::nullopt;
  }
};

// `data` parsed into `Answer` (a stun_answer); nullopt, and the test fails, if it is not
// valid STUN. `who` names the sender in the failure.
template <typename Answer>
std::optional<Answer> parse_answer(std::span<const std::byte> data, const char* who) {
  Answer a;
  a.data.assign(data.begin(), data.end());
  punch::error_code ec;
  auto m = punch::stun::message::parse(a.data, ec);
  BOOST_TEST_CONTEXT("parsing a datagram from " << who) { BOOST_TEST(!ec, ec.message()); }
  if (!m) return std::nullopt;
  a.msg = *m;
  return a;
}

}  // namespace punch_test
