// The entry point that an external transport plugin (a shared object) exports.
//
//   extern "C" PUNCH_PLUGIN_EXPORT const punch::plugin_descriptor* punch_transport_plugin();
//
// The registry loads the object, calls the entry point and checks abi_version and
// boost_version before it touches anything else. See docs/transports.md.
#pragma once

#include "punch/transport_registry.hpp"

#include <boost/version.hpp>

#include <cstdint>

// Bumped whenever transport.hpp, plugin_descriptor or transport_options change shape.
#define PUNCH_PLUGIN_ABI_VERSION 4
#define PUNCH_PLUGIN_ENTRY_POINT "punch_transport_plugin"
#define PUNCH_PLUGIN_EXPORT __attribute__((visibility("default")))

namespace punch {

// The first two fields never move: the registry reads them before anything else, so a
// plugin of any ABI version is rejected cleanly instead of being misread.
struct plugin_descriptor {
  std::uint32_t abi_version;    // PUNCH_PLUGIN_ABI_VERSION the plugin was built with
  std::uint32_t boost_version;  // BOOST_VERSION the plugin was built with
  const char* name;             // registry name, e.g. "myudp"; non-empty
  const char* description;      // one line for --help; may be null
  // Reports failure through the error_code (e.g. errc::invalid_transport_option), not by
  // throwing; the descriptor and the strings must live as long as the shared object.
  std::unique_ptr<transport> (*make)(asio::any_io_executor, const transport_options&,
                                     error_code&);
};

using plugin_entry_point = const plugin_descriptor* (*)();

}  // namespace punch
