// The classic NAT names as RFC 4787 behaviour presets, and their text forms.
#include "punch/plugins/sim/nat_behaviour.hpp"

#include <array>

namespace punch::sim {

nat_behaviour nat_behaviour::full_cone() {
  nat_behaviour b;
  b.mapping = mapping_behaviour::endpoint_independent;
  b.filtering = filtering_behaviour::endpoint_independent;
  return b;
}

nat_behaviour nat_behaviour::restricted_cone() {
  nat_behaviour b;
  b.mapping = mapping_behaviour::endpoint_independent;
  b.filtering = filtering_behaviour::address_dependent;
  return b;
}

nat_behaviour nat_behaviour::port_restricted_cone() {
  nat_behaviour b;
  b.mapping = mapping_behaviour::endpoint_independent;
  b.filtering = filtering_behaviour::address_and_port_dependent;
  return b;
}

nat_behaviour nat_behaviour::symmetric() {
  nat_behaviour b;
  b.mapping = mapping_behaviour::address_and_port_dependent;
  b.filtering = filtering_behaviour::address_and_port_dependent;
  b.ports = port_allocation::random;
  return b;
}

nat_behaviour nat_behaviour::stateful_firewall() {
  nat_behaviour b = port_restricted_cone();
  b.port_min = 1;
  return b;
}

namespace {
constexpr std::array<std::string_view, 4> names = {"full-cone", "restricted-cone",
                                                   "port-restricted-cone", "symmetric"};
}

std::span<const std::string_view> nat_behaviour::preset_names() { return names; }

std::optional<nat_behaviour> nat_behaviour::preset(std::string_view name) {
  if (name == names[0]) return full_cone();
  if (name == names[1]) return restricted_cone();
  if (name == names[2]) return port_restricted_cone();
  if (name == names[3]) return symmetric();
  return std::nullopt;
}

std::string nat_behaviour::to_string() const {
  std::string out;
  out.append(sim::to_string(mapping)).append("/").append(sim::to_string(filtering));
  out.append(", ").append(sim::to_string(ports)).append(" ports ");
  out.append(std::to_string(port_min)).append("-").append(std::to_string(port_max));
  out.append(", lifetime ").append(std::to_string(mapping_lifetime.count())).append(" ms");
  if (inbound_refreshes) out.append(" (inbound refreshes)");
  out.append(hairpinning ? ", hairpinning" : ", no hairpinning");
  return out;
}

std::string_view to_string(mapping_behaviour m) noexcept {
  switch (m) {
    case mapping_behaviour::endpoint_independent: return "EIM";
    case mapping_behaviour::address_dependent: return "ADM";
    case mapping_behaviour::address_and_port_dependent: return "APDM";
  }
  return "?";
}

std::string_view to_string(filtering_behaviour f) noexcept {
  switch (f) {
    case filtering_behaviour::endpoint_independent: return "EIF";
    case filtering_behaviour::address_dependent: return "ADF";
    case filtering_behaviour::address_and_port_dependent: return "APDF";
  }
  return "?";
}

std::string_view to_string(port_allocation p) noexcept {
  switch (p) {
    case port_allocation::preserve: return "preserve";
    case port_allocation::sequential: return "sequential";
    case port_allocation::random: return "random";
  }
  return "?";
}

}  // namespace punch::sim
