// libFuzzer target for the TURN codec (RFC 8656): each input is decoded as ChannelData, and as a
// STUN message whose TURN attributes and MESSAGE-INTEGRITY are read. Aborts when an accepted
// ChannelData breaks what the decoder promises (range, length, padding) or does not encode back
// to the same bytes, or when a decoder disagrees with its error code.
#include "punch/wire/turn.hpp"

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
    std::fprintf(stderr, "fuzz_turn: %s\n", what);
    std::abort();
  }
}

// Static so that no run allocates.
std::array<std::byte, 65536 + turn::channel_data_header_size> encode_buf;
const turn::long_term_key key = turn::make_long_term_key("fuzz", "punch.test", "secret");

void check_channel_data(std::span<const std::byte> input) {
  error_code ec;
  const auto cd = turn::decode_channel_data(input, ec);
  expect(cd.has_value() == !ec, "decode_channel_data: result and error disagree");
  expect(!ec || ec == errc::turn_bad_channel_data, "decode_channel_data: unexpected error");
  if (!cd) return;
  expect(turn::looks_like_channel_data(input), "accepted ChannelData whose first bits are not 01");
  expect(cd->channel >= turn::min_channel && cd->channel <= turn::max_channel, "accepted a channel out of range");
  expect(cd->data.data() == input.data() + 4, "data does not follow the header");
  expect(input.size() - 4 - cd->data.size() <= 3, "accepted more than the padding after the data");
  const auto again = turn::encode_channel_data(cd->channel, cd->data, encode_buf, ec);
  expect(!ec, "encode_channel_data failed on decoded data");
  expect(std::equal(again.begin(), again.end(), input.begin(), input.begin() + static_cast<std::ptrdiff_t>(again.size())),
         "ChannelData does not encode back to its bytes");
}

void check_stun(std::span<const std::byte> input) {
  error_code ec;
  const auto m = stun::message::parse(input, ec);
  if (!m) return;
  // Must not crash, whatever the value; a MAC by chance is not a bug.
  (void)turn::check_message_integrity(*m, key);
  for (const auto a : *m) {
    if (a.type == turn::attr::channel_number) {
      const auto c = turn::decode_channel_number(a, ec);
      expect(c.has_value() == !ec, "decode_channel_number: result and error disagree");
      expect(!c || (*c >= turn::min_channel && *c <= turn::max_channel), "channel number out of range");
    } else if (a.type == turn::attr::xor_relayed_address || a.type == turn::attr::xor_peer_address) {
      const auto ep = stun::decode_xor_address(a, m->id(), ec);
      expect(ep.has_value() == !ec, "decode_xor_address: result and error disagree");
    } else if (a.type == turn::attr::error_code) {
      const auto e = stun::decode_error_code(a, ec);
      expect(!e || (e->code >= 300 && e->code <= 699), "error code out of range");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A view of the same bytes as std::byte; no struct is laid over them.
  const std::span<const std::byte> input{reinterpret_cast<const std::byte*>(data), size};
  check_channel_data(input);
  check_stun(input);
  return 0;
}
