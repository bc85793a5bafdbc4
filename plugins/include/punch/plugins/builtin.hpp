// Registers the transports that ship with punch ("udp", "sim") in a registry.
#pragma once

#include "punch/transport_registry.hpp"

namespace punch::plugins {

// An explicit call, not a static initialiser: the linker cannot drop it. Throws
// punch::system_error (errc::duplicate_transport) if "udp" or "sim" is already registered.
void register_builtins(transport_registry& registry);

}  // namespace punch::plugins
