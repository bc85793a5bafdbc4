// How a simulated NAT box behaves, in RFC 4787 terms, and the classic "cone" presets.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace punch::sim {

// RFC 4787 §4.1: what decides whether two flows from one inside endpoint share a mapping.
enum class mapping_behaviour { endpoint_independent, address_dependent, address_and_port_dependent };

// RFC 4787 §5: which outside endpoints may send through an existing mapping.
enum class filtering_behaviour { endpoint_independent, address_dependent, address_and_port_dependent };

// RFC 4787 §4.2.1: how the external port of a new mapping is chosen.
enum class port_allocation {
  preserve,    // the inside port when free, otherwise the next free port above it
  sequential,  // one after the previously allocated port
  random,      // uniformly from the range, drawn from the network's seeded RNG
};

struct nat_behaviour {
  mapping_behaviour mapping = mapping_behaviour::endpoint_independent;
  filtering_behaviour filtering = filtering_behaviour::address_and_port_dependent;
  port_allocation ports = port_allocation::preserve;
  // RFC 4787 §4.3 REQ-5 asks for at least two minutes; tests set a few milliseconds.
  std::chrono::milliseconds mapping_lifetime = std::chrono::minutes(2);
  // RFC 4787 §4.3 REQ-6: outbound traffic always refreshes; inbound refresh is a choice.
  bool inbound_refreshes = false;
  // RFC 4787 §6 REQ-9: inside hosts reach each other through the external address.
  bool hairpinning = true;
  // External ports are allocated in [port_min, port_max].
  std::uint16_t port_min = 1024;
  std::uint16_t port_max = 65535;

  // EIM + EIF.
  static nat_behaviour full_cone();
  // EIM + address-dependent filtering.
  static nat_behaviour restricted_cone();
  // EIM + address-and-port-dependent filtering.
  static nat_behaviour port_restricted_cone();
  // APDM + APDF with random ports: every destination gets its own external port.
  static nat_behaviour symmetric();

  // The common IPv6 home router: no translation, but inbound only for flows the inside
  // opened (EIM/APDF, every port preserved). Give the box the inside host's own address as
  // its external address, one host per box, and the outside sees the host as it is.
  static nat_behaviour stateful_firewall();

  // "full-cone", "restricted-cone", "port-restricted-cone", "symmetric"; nullopt otherwise.
  static std::optional<nat_behaviour> preset(std::string_view name);
  static std::span<const std::string_view> preset_names();

  // For logs: "EIM/APDF, preserve ports 1024-65535, lifetime 120000 ms, hairpinning".
  std::string to_string() const;
};

// Short RFC 4787 abbreviations: "EIM", "ADM", "APDM" / "EIF", "ADF", "APDF".
std::string_view to_string(mapping_behaviour m) noexcept;
std::string_view to_string(filtering_behaviour f) noexcept;
std::string_view to_string(port_allocation p) noexcept;

}  // namespace punch::sim
