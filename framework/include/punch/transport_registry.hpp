// The registry of transports by name, and loading of external transport plugins.
//
// Built-in transports are added by an explicit call (punch::plugins::register_builtins in
// plugins/builtin.hpp), never by static initialisers that a linker may drop. External
// plugins are shared objects exporting the entry point declared in punch/plugin.hpp.
#pragma once

#include "punch/export.hpp"

#include "punch/error.hpp"
#include "punch/transport.hpp"

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace punch {

// Free-form key=value options for a transport (`--transport-option key=value` in the apps).
using transport_options = std::map<std::string, std::string, std::less<>>;

using transport_factory = std::function<std::unique_ptr<transport>(
    asio::any_io_executor, const transport_options&, error_code&)>;

// Not thread-safe: fill it at startup, then make transports from it.
class PUNCH_EXPORT transport_registry {
public:
  transport_registry();
  ~transport_registry();
  transport_registry(const transport_registry&) = delete;
  transport_registry& operator=(const transport_registry&) = delete;

  // Adds a transport; errc::duplicate_transport if the name is taken.
  void add(std::string name, std::string description, transport_factory factory,
           error_code& ec);
  void add(std::string name, std::string description, transport_factory factory);

  // Loads an external plugin (a shared object) and registers the transport it describes.
  // errc::plugin_not_found, errc::plugin_entry_missing, errc::plugin_version_mismatch,
  // errc::plugin_invalid or errc::duplicate_transport. A plugin that was registered stays
  // mapped until the process exits (RTLD_NODELETE), because an io_context that outlives the
  // registry may still hold its handlers and services; one that was rejected is unloaded.
  // Returns the name of the transport the plugin registered ("" on error).
  std::string load_plugin(const std::filesystem::path& path, error_code& ec);
  std::string load_plugin(const std::filesystem::path& path);

  // Creates a transport by name; errc::unknown_transport if there is none.
  std::unique_ptr<transport> make(std::string_view name, asio::any_io_executor ex,
                                  const transport_options& options, error_code& ec) const;
  // Throwing form: the message names the transport and lists the known ones.
  std::unique_ptr<transport> make(std::string_view name, asio::any_io_executor ex,
                                  const transport_options& options = {}) const;

  bool contains(std::string_view name) const;
  // Registered names, sorted.
  std::vector<std::string> names() const;
  // The one-line description given at registration; empty for an unknown name.
  std::string description(std::string_view name) const;

  // A detailed, human-readable message for the last failure of load_plugin on this registry
  // (it names the file; dlerror() text, the versions found, ...); empty when the last call
  // succeeded. The throwing load_plugin uses it as the exception's message.
  const std::string& last_error_detail() const noexcept { return detail_; }

private:
  struct entry {
    std::string description;
    transport_factory factory;
  };
  std::map<std::string, entry, std::less<>> entries_;
  std::vector<void*> libraries_;  // dlopen handles of registered plugins, closed in the destructor
  std::string detail_;
};

}  // namespace punch
