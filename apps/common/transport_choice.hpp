// The transport options every punch app has (--transport, --transport-plugin,
// --transport-option) and how an app reads them: one spelling, one set of error lines.
#pragma once

#include "punch/transport_registry.hpp"

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/variables_map.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace punch::apps {

// Adds the three options to `d`; `option_help` describes --transport-option.
void add_transport_options(boost::program_options::options_description& d,
                           const char* option_help = "an option for the transport; repeatable");

// Reads them from `vm`. Returns a one-line error naming the option, or an empty string.
std::string read_transport_options(const boost::program_options::variables_map& vm, std::string& name,
                                   std::vector<std::filesystem::path>& plugins, transport_options& settings);

}  // namespace punch::apps
