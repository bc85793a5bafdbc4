// Reading a peer out of a broker's answer or an Introduce.
#include "session/peer_answer.hpp"

#include "punch/identity.hpp"
#include "punch/wire/protocol.hpp"

#include <cstring>
#include <string>

namespace punch::detail {

peer_info read_peer(const stun::message& m, std::string_view fallback_id) {
  peer_info p;
  p.id = std::string(fallback_id);
  error_code ec;
  for (const stun::attribute a : m) {
    if (a.type == wire::attr::peer_id) {
      p.id = std::string(stun::decode_string(a));
    } else if (a.type == wire::attr::public_key && a.value.size() == p.key.size()) {
      std::memcpy(p.key.data(), a.value.data(), p.key.size());
    } else if (a.type == wire::attr::nat_mapping) {
      if (auto v = stun::decode_u32(a, ec); v && *v <= 2) p.nat = static_cast<nat_mapping>(*v);
    } else if (a.type == wire::attr::reflexive_candidate) {
      // A dual-stack peer has one per family.
      if (auto ep = stun::decode_xor_address(a, m.id(), ec)) {
        if (p.reflexive.port() == 0)
          p.reflexive = *ep;
        else if (!p.reflexive_other && ep->address().is_v4() != p.reflexive.address().is_v4())
          p.reflexive_other = *ep;
      }
    } else if (a.type == wire::attr::mapped_candidate && !p.mapped) {
      if (auto ep = stun::decode_xor_address(a, m.id(), ec); ep && ep->port() != 0) p.mapped = unmapped(*ep);
    } else if (a.type == wire::attr::host_candidate && p.host.size() < wire::max_host_candidates) {
      if (auto ep = stun::decode_xor_address(a, m.id(), ec)) p.host.push_back(*ep);
    }
  }
  return p;
}

bool has_key(const stun::message& m) {
  auto k = m.find(wire::attr::public_key);
  return k && k->value.size() == public_key_size;
}

}  // namespace punch::detail
