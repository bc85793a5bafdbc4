// libFuzzer target for the STUN codec: parses each input under both padding policies, runs
// every typed decoder on every attribute, re-encodes what decodes, and rebuilds each parsed
// message through stun::builder, aborting when a copy does not parse back the same. It also
// runs the decoders of punch/wire/protocol.hpp: the data-frame header and the peer-id rule.
#include "punch/wire/protocol.hpp"
#include "punch/wire/stun.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string_view>

namespace {

using namespace punch;
using namespace punch::stun;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_stun: %s\n", what);
    std::abort();
  }
}

// Static so that no run allocates; a rebuilt message is never larger than its original.
std::array<std::byte, header_size + 0xFFFF> rebuilt_buf;
std::array<std::byte, max_message_size> value_buf;

bool same_bytes(std::span<const std::byte> a, std::span<const std::byte> b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

// The builder writes an IPv4-mapped IPv6 address as IPv4, so compare in that form.
std::optional<endpoint> unmapped(std::optional<endpoint> ep) {
  if (ep && ep->address().is_v6() && ep->address().to_v6().is_v4_mapped()) {
    const auto v4 = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, ep->address().to_v6());
    return endpoint{v4, ep->port()};
  }
  return ep;
}

// A decoder either succeeds with ec clear or fails with ec set to a punch error.
template <class Optional>
void expect_consistent(const Optional& v, const error_code& ec, const char* what) {
  expect(v.has_value() == !ec, what);
  expect(!ec || ec.category() == punch::category(), what);
}

// Parses the only attribute of a message just built, for the re-encoding checks below.
attribute only_attribute(builder& b, const char* what) {
  const auto out = b.finish();
  expect(!b.error(), what);
  error_code ec;
  const auto m = message::parse(out, ec, {.padding = padding_check::require_zero});
  expect(m.has_value() && m->begin() != m->end(), what);
  return *m->begin();
}

// A valid id is 1..64 bytes that survive a PEER-ID attribute unchanged.
void check_peer_id(std::string_view id) {
  if (!wire::valid_peer_id(id)) return;
  expect(!id.empty() && id.size() <= wire::max_peer_id_size, "valid_peer_id accepted a bad length");
  builder b{value_buf, message_class::request, wire::method::register_peer, transaction_id{}};
  b.add_string(wire::attr::peer_id, id);
  expect(decode_string(only_attribute(b, "peer id rebuild")) == id, "peer id does not round trip");
}

// wire/protocol.hpp: frames and STUN are told apart by the first byte; a frame header
// re-encodes to the same 13 bytes.
// The highest frame kind (wire::frame_kind): a new kind moves it, and this check with it.
constexpr unsigned last_frame_kind = static_cast<unsigned>(wire::frame_kind::sctp);

void check_frame(std::span<const std::byte> input) {
  const bool frame = wire::looks_like_frame(input);
  expect(!(frame && looks_like_stun(input)), "a datagram looks like both a frame and STUN");
  if (!frame) {
    expect(input.size() < wire::frame_overhead || (input[0] & std::byte{0xF0}) != wire::frame_marker ||
               std::to_integer<unsigned>(input[0] & std::byte{0x0F}) > last_frame_kind,
           "looks_like_frame refused a frame");
    return;
  }
  const auto kind = wire::frame_kind_of(input);
  expect(static_cast<unsigned>(kind) <= last_frame_kind, "frame kind out of range");
  std::array<std::byte, wire::frame_header_size> header;
  wire::write_frame_header(header, kind, wire::frame_tag_of(input), wire::frame_counter_of(input));
  expect(same_bytes(header, input.first(wire::frame_header_size)), "frame header does not round trip");
  // The connection tag is one of the keys derived from the introduction token.
  wire::token t{};
  std::copy_n(input.begin(), std::min(input.size(), t.size()), t.begin());
  expect(wire::tag_of(t) == wire::derive_keys(t).tag, "tag_of and derive_keys disagree");
}

void decode_everything(const message& m) {
  for (const attribute a : m) {
    error_code ec;
    const auto found = m.find(a.type);
    expect(found.has_value() ? found->type == a.type : true, "find returned another type");

    const auto xa = decode_xor_address(a, m.id(), ec);
    expect_consistent(xa, ec, "decode_xor_address");
    if (xa) {
      builder b{value_buf, m.cls(), m.method(), m.id()};
      b.add_xor_address(a.type, *xa);
      const auto again = decode_xor_address(only_attribute(b, "xor address rebuild"), m.id(), ec);
      expect(again == unmapped(xa), "xor address does not round trip");
    }
    const auto pa = decode_address(a, ec);
    expect_consistent(pa, ec, "decode_address");
    if (pa) {
      builder b{value_buf, m.cls(), m.method(), m.id()};
      b.add_address(a.type, *pa);
      expect(decode_address(only_attribute(b, "address rebuild"), ec) == unmapped(pa),
             "address does not round trip");
    }
    const auto e = decode_error_code(a, ec);
    expect_consistent(e, ec, "decode_error_code");
    if (e && e->reason.size() <= 509) {
      builder b{value_buf, m.cls(), m.method(), m.id()};
      b.add_error_code(e->code, e->reason);
      const auto again = decode_error_code(only_attribute(b, "error code rebuild"), ec);
      expect(again && again->code == e->code && again->reason == e->reason,
             "error code does not round trip");
    }
    const auto u32 = decode_u32(a, ec);
    expect_consistent(u32, ec, "decode_u32");
    expect(u32.has_value() == (a.value.size() == 4), "decode_u32 size rule");
    const auto u64 = decode_u64(a, ec);
    expect_consistent(u64, ec, "decode_u64");
    expect(u64.has_value() == (a.value.size() == 8), "decode_u64 size rule");
    if (a.type == wire::attr::peer_id || a.type == wire::attr::target_id) check_peer_id(decode_string(a));
    const auto text = decode_string(a, ec);
    expect_consistent(text, ec, "decode_string");
    expect(decode_string(a).size() == a.value.size(), "decode_string size");
  }
}

// Rebuilds `m` attribute by attribute and checks the copy parses to the same message.
void rebuild(const message& m) {
  builder b{rebuilt_buf, m.cls(), m.method(), m.id()};
  for (const attribute a : m) {
    if (a.type != attr::fingerprint) {
      b.add(a.type, a.value);
    }
  }
  const auto out = m.has_fingerprint() ? b.finish_with_fingerprint() : b.finish();
  expect(!b.error() && out.size() == m.bytes().size(), "rebuild failed");
  error_code ec;
  const auto copy = message::parse(out, ec, {.padding = padding_check::require_zero});
  expect(copy.has_value(), "rebuilt message does not parse");
  expect(copy->method() == m.method() && copy->cls() == m.cls() && copy->id() == m.id() &&
             copy->has_fingerprint() == m.has_fingerprint(),
         "rebuilt header differs");
  auto i = copy->begin();
  for (const attribute a : m) {
    expect(i != copy->end(), "rebuilt message has fewer attributes");
    const attribute c = *i++;
    // The FINGERPRINT value changes when the original had non-zero padding.
    expect(c.type == a.type && (a.type == attr::fingerprint || same_bytes(c.value, a.value)),
           "rebuilt attribute differs");
  }
  expect(i == copy->end(), "rebuilt message has more attributes");
  // Zero padding, so the copy is byte for byte the original whenever the original was.
  const bool strict_ok = message::parse(m.bytes(), ec, {.padding = padding_check::require_zero}).has_value();
  expect(!strict_ok || same_bytes(out, m.bytes()), "zero-padded message not rebuilt exactly");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A view of the same bytes as std::byte; no struct is laid over them.
  const std::span<const std::byte> input{reinterpret_cast<const std::byte*>(data), size};
  check_frame(input);
  check_peer_id({reinterpret_cast<const char*>(data), size});
  bool parsed_strict = false;
  for (const auto padding : {padding_check::require_zero, padding_check::ignore}) {
    error_code ec;
    const auto m = message::parse(input, ec, {.padding = padding});
    expect_consistent(m, ec, "parse");
    if (padding == padding_check::require_zero) {
      parsed_strict = m.has_value();
    } else {
      expect(!parsed_strict || m.has_value(), "strict parse accepted what the lenient one refused");
    }
    if (!m) {
      continue;
    }
    expect(looks_like_stun(input), "parsed message does not look like STUN");
    decode_everything(*m);
    rebuild(*m);
  }
  return 0;
}
