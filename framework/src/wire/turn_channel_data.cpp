// ChannelData (RFC 8656 §12): the 4-byte framing of data on a bound channel, decoded with every
// length checked before a byte is read, and encoded into a caller-supplied buffer.
#include "punch/wire/turn.hpp"

#include "wire/stun_bytes.hpp"

#include <cstring>

namespace punch::turn {

std::optional<channel_data> decode_channel_data(std::span<const std::byte> datagram, error_code& ec) noexcept {
  ec.clear();
  if (datagram.size() < channel_data_header_size) {
    ec = errc::turn_bad_channel_data;
    return std::nullopt;
  }
  const std::uint16_t channel = stun::detail::read_u16(datagram.data());
  const std::size_t length = stun::detail::read_u16(datagram.data() + 2);
  const std::size_t after = datagram.size() - channel_data_header_size;
  // RFC 8656 §12.5: channel numbers outside 0x4000..0x4FFF are not ChannelData; the length
  // must fit the datagram, and over UDP at most the padding to 4 bytes may follow.
  if (channel < min_channel || channel > max_channel || length > after || after - length > 3) {
    ec = errc::turn_bad_channel_data;
    return std::nullopt;
  }
  return channel_data{channel, datagram.subspan(channel_data_header_size, length)};
}

std::span<const std::byte> encode_channel_data(std::uint16_t channel, std::span<const std::byte> payload,
                                               std::span<std::byte> out, error_code& ec) noexcept {
  ec.clear();
  if (channel < min_channel || channel > max_channel || payload.size() > stun::detail::max_length_field) {
    ec = errc::turn_bad_channel_data;
    return {};
  }
  if (out.size() < channel_data_header_size || out.size() - channel_data_header_size < payload.size()) {
    ec = errc::message_too_large;
    return {};
  }
  stun::detail::write_u16(out.data(), channel);
  stun::detail::write_u16(out.data() + 2, static_cast<std::uint16_t>(payload.size()));
  // memmove: a caller may have written the payload in place, 4 bytes into `out`.
  if (!payload.empty()) std::memmove(out.data() + channel_data_header_size, payload.data(), payload.size());
  return out.first(channel_data_header_size + payload.size());
}

}  // namespace punch::turn
