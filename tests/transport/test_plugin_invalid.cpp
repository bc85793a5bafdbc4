// A plugin with the right versions but an unusable descriptor: no make function.
#include "punch/plugin.hpp"

namespace {

const punch::plugin_descriptor descriptor{
    .abi_version = PUNCH_PLUGIN_ABI_VERSION,
    .boost_version = BOOST_VERSION,
    .name = "invalid",
    .description = "a descriptor without a make function",
    .make = nullptr,
};

}  // namespace

extern "C" PUNCH_PLUGIN_EXPORT const punch::plugin_descriptor* punch_transport_plugin() {
  return &descriptor;
}
