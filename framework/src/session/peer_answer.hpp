// Reading a peer out of a broker's answer (Lookup, Connect) or an Introduce: its id, key,
// NAT mapping and candidates (private header).
#pragma once

#include "punch/session.hpp"
#include "punch/wire/stun.hpp"

#include <string_view>

namespace punch::detail {

// A peer's candidates as a broker answer or an Introduce lists them.
peer_info read_peer(const stun::message& m, std::string_view fallback_id);
// Whether `m` carries a well-formed PUBLIC-KEY: without the peer's key there is no
// handshake to authenticate.
bool has_key(const stun::message& m);

}  // namespace punch::detail
