// libFuzzer target for the PCP codec (RFC 6887): decodes each input as a gateway's response and
// aborts when an accepted one breaks a rule the decoder promises (size, version, R bit, opcode)
// or when its MAP body, written back through the request encoder, differs from the input's bytes.
#include "punch/wire/pcp.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

namespace {

using namespace punch;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_pcp: %s\n", what);
    std::abort();
  }
}

// Static so that no run allocates.
std::array<std::byte, pcp::max_message_size> request_buf;

bool same_bytes(std::span<const std::byte> a, std::span<const std::byte> b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

// The MAP body has the request's layout (§11.1): encode a request that suggests what was
// assigned and compare every non-reserved byte of the two bodies.
void check_map_body(std::span<const std::byte> input, const pcp::response& r) {
  expect(input.size() >= pcp::header_size + pcp::map_body_size, "MAP body decoded from too few bytes");
  pcp::map_request q;
  q.nonce = r.map->nonce;
  q.protocol = r.map->protocol;
  q.internal_port = r.map->internal_port;
  q.suggested_external_port = r.map->external_port;
  q.suggested_external_address = r.map->external_address;
  error_code ec;
  const auto out = pcp::encode(q, request_buf, ec);
  expect(!ec && out.size() == pcp::header_size + pcp::map_body_size, "MAP request encode failed");
  const auto body = input.subspan(pcp::header_size, pcp::map_body_size);
  const auto again = out.subspan(pcp::header_size);
  expect(same_bytes(body.first(13), again.first(13)), "nonce or protocol does not round trip");
  expect(same_bytes(body.subspan(16), again.subspan(16)), "ports or address do not round trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A view of the same bytes as std::byte; no struct is laid over them.
  const std::span<const std::byte> input{reinterpret_cast<const std::byte*>(data), size};
  error_code ec;
  const auto r = pcp::decode_response(input, ec);
  expect(r.has_value() == !ec, "decode_response: result and error disagree");
  expect(!ec || ec.category() == punch::category(), "decode_response: error outside the punch category");
  if (!r) return 0;
  expect(size >= pcp::header_size && size <= pcp::max_message_size && size % 4 == 0, "accepted a bad length");
  expect(input[0] == std::byte{pcp::version}, "accepted another version");
  expect((input[1] & std::byte{0x80}) != std::byte{0}, "accepted a request");
  expect(r->opcode == pcp::opcode::announce || r->opcode == pcp::opcode::map, "accepted another opcode");
  expect(static_cast<std::uint8_t>(r->opcode) == std::to_integer<std::uint8_t>(input[1] & std::byte{0x7F}),
         "opcode differs from its byte");
  expect(static_cast<std::uint8_t>(r->result) == std::to_integer<std::uint8_t>(input[3]), "result differs from its byte");
  expect(!r->map || r->opcode == pcp::opcode::map, "MAP body on another opcode");
  expect(r->map || r->opcode != pcp::opcode::map || r->result != pcp::result_code::success,
         "MAP success without a body");
  if (r->map) check_map_body(input, *r);
  return 0;
}
