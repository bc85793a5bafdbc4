// The shape of an SCTP packet (private header), checked before usrsctp sees it: the fuzz target
// (fuzz/fuzz_sctp.cpp) found an INIT whose parameter runs past its chunk that sends usrsctp
// 0.9.5 into an endless loop while it builds the INIT ACK. Only lengths are checked here;
// usrsctp checks everything else.
#pragma once

#include <cstddef>
#include <span>

namespace punch::detail {

// RFC 9260 §3.2: after the common header, chunks of at least 4 bytes, each inside the packet;
// in an INIT or INIT ACK (§3.3.2, §3.3.3) the fixed part, then parameters of at least 4 bytes,
// each inside its chunk.
bool sctp_packet_well_formed(std::span<const std::byte> packet);

}  // namespace punch::detail
