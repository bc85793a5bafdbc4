// The transport registry: transports by name, and loading of external plugins with dlopen.
#include "punch/transport_registry.hpp"

#include "punch/plugin.hpp"

#include <dlfcn.h>

#include <bit>
#include <sstream>
#include <system_error>
#include <utility>

namespace punch {
namespace {

// dlerror() returns null when nothing failed since the last call.
std::string dlerror_text() {
  const char* text = ::dlerror();
  return text ? text : "no dlerror text";
}

// BOOST_VERSION is major * 100000 + minor * 100 + patch.
std::string boost_version_text(std::uint32_t v) {
  std::ostringstream out;
  out << v / 100000 << '.' << v / 100 % 1000 << '.' << v % 100;
  return out.str();
}

// Owns one dlopen reference until released into the registry.
class library_handle {
public:
  explicit library_handle(void* handle) noexcept : handle_(handle) {}
  library_handle(const library_handle&) = delete;
  library_handle& operator=(const library_handle&) = delete;
  ~library_handle() {
    if (handle_) ::dlclose(handle_);
  }
  void* get() const noexcept { return handle_; }
  void* release() noexcept { return std::exchange(handle_, nullptr); }

private:
  void* handle_;
};

}  // namespace

transport_registry::transport_registry() = default;

transport_registry::~transport_registry() {
  // The factories may point into the plugins: drop them before the last references go.
  entries_.clear();
  for (void* handle : libraries_) ::dlclose(handle);
}

void transport_registry::add(std::string name, std::string description,
                             transport_factory factory, error_code& ec) {
  ec.clear();
  if (name.empty() || !factory) {
    ec = errc::plugin_invalid;
    return;
  }
  if (entries_.contains(name)) {
    ec = errc::duplicate_transport;
    return;
  }
  entries_.emplace(std::move(name), entry{std::move(description), std::move(factory)});
}

void transport_registry::add(std::string name, std::string description,
                             transport_factory factory) {
  error_code ec;
  std::string shown = name;
  add(std::move(name), std::move(description), std::move(factory), ec);
  if (ec == errc::duplicate_transport)
    throw system_error(ec, "transport \"" + shown + "\" is already registered");
  if (ec) throw system_error(ec, "transport \"" + shown + "\" needs a name and a factory");
}

std::string transport_registry::load_plugin(const std::filesystem::path& path, error_code& ec) {
  ec.clear();
  detail_.clear();
  const std::string shown = "transport plugin " + path.string();
  auto fail = [&](errc e, const std::string& what) {
    ec = e;
    detail_ = shown + what;
    return std::string{};
  };

  // A bare name would make dlopen search the library path; a plugin is loaded by path.
  const std::filesystem::path file = path.has_parent_path() ? path : "." / path;
  ::dlerror();
  library_handle library{::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL)};
  if (!library.get()) {
    std::string text = dlerror_text();
    std::error_code fs_ec;
    const bool exists = std::filesystem::exists(file, fs_ec);
    return fail(errc::plugin_not_found,
                (exists ? ": cannot be loaded (" : ": not found (") + text + ")");
  }

  ::dlerror();
  void* symbol = ::dlsym(library.get(), PUNCH_PLUGIN_ENTRY_POINT);
  if (!symbol)
    return fail(errc::plugin_entry_missing,
                " has no entry point " PUNCH_PLUGIN_ENTRY_POINT "() (" + dlerror_text() + ")");
  // POSIX guarantees that dlsym's object pointer converts to the function pointer.
  const auto entry_point = std::bit_cast<plugin_entry_point>(symbol);
  const plugin_descriptor* descriptor = entry_point();
  if (!descriptor)
    return fail(errc::plugin_invalid, ": " PUNCH_PLUGIN_ENTRY_POINT "() returned null");

  // The versions first: with another ABI the rest of the descriptor may mean something else.
  if (descriptor->abi_version != PUNCH_PLUGIN_ABI_VERSION)
    return fail(errc::plugin_version_mismatch,
                " was built for plugin ABI " + std::to_string(descriptor->abi_version) +
                    ", this punch uses " + std::to_string(PUNCH_PLUGIN_ABI_VERSION));
  if (descriptor->boost_version != BOOST_VERSION)
    return fail(errc::plugin_version_mismatch,
                " was built against Boost " + boost_version_text(descriptor->boost_version) +
                    ", this punch uses Boost " + boost_version_text(BOOST_VERSION));
  if (!descriptor->name || !*descriptor->name || !descriptor->make)
    return fail(errc::plugin_invalid, ": its descriptor lacks a name or a make function");

  std::string name = descriptor->name;
  if (entries_.contains(name))
    return fail(errc::duplicate_transport,
                ": transport \"" + name + "\" is already registered");

  // Keep the code mapped after dlclose: an io_context may still hold the plugin's handlers.
  if (void* pinned = ::dlopen(file.c_str(), RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE))
    ::dlclose(pinned);

  auto make = descriptor->make;
  entries_.emplace(name, entry{descriptor->description ? descriptor->description : "",
                               [make](asio::any_io_executor ex, const transport_options& options,
                                      error_code& make_ec) {
                                 return make(std::move(ex), options, make_ec);
                               }});
  libraries_.push_back(library.release());
  return name;
}

std::string transport_registry::load_plugin(const std::filesystem::path& path) {
  error_code ec;
  std::string name = load_plugin(path, ec);
  if (ec) throw system_error(ec, detail_);
  return name;
}

std::unique_ptr<transport> transport_registry::make(std::string_view name,
                                                    asio::any_io_executor ex,
                                                    const transport_options& options,
                                                    error_code& ec) const {
  ec.clear();
  auto found = entries_.find(name);
  if (found == entries_.end()) {
    ec = errc::unknown_transport;
    return nullptr;
  }
  std::unique_ptr<transport> made = found->second.factory(std::move(ex), options, ec);
  if (ec) return nullptr;
  // A factory that neither made a transport nor said why is broken.
  if (!made) ec = errc::plugin_invalid;
  return made;
}

std::unique_ptr<transport> transport_registry::make(std::string_view name,
                                                    asio::any_io_executor ex,
                                                    const transport_options& options) const {
  error_code ec;
  std::unique_ptr<transport> made = make(name, std::move(ex), options, ec);
  if (!ec) return made;

  std::ostringstream what;
  what << "transport \"" << name << '"';
  if (ec == errc::unknown_transport) {
    what << " is not registered (known: ";
    const char* separator = "";
    for (const auto& [known, unused] : entries_) {
      what << separator << known;
      separator = ", ";
    }
    what << (entries_.empty() ? "none)" : ")");
  } else {
    what << " could not be made (options:";
    for (const auto& [key, value] : options) what << ' ' << key << '=' << value;
    what << (options.empty() ? " none)" : ")");
  }
  throw system_error(ec, what.str());
}

bool transport_registry::contains(std::string_view name) const {
  return entries_.find(name) != entries_.end();
}

std::vector<std::string> transport_registry::names() const {
  std::vector<std::string> result;
  result.reserve(entries_.size());
  for (const auto& [name, unused] : entries_) result.push_back(name);
  return result;
}

std::string transport_registry::description(std::string_view name) const {
  auto found = entries_.find(name);
  return found == entries_.end() ? std::string{} : found->second.description;
}

}  // namespace punch
