# shellcheck shell=bash
# The NAT lab's NAT types: one nftables ruleset per type, loaded into a NAT box whose outside
# interface is "wan" and whose inside is the bridge "lan". Sourced by lab.sh.
#
# RFC 4787 behaviour each type gives (mapping / filtering; all port-preserving except symmetric):
#   full-cone           endpoint-independent mapping / endpoint-independent filtering
#   address-restricted  endpoint-independent mapping / address-dependent filtering
#   port-restricted     endpoint-independent mapping / address-and-port-dependent filtering
#   symmetric           address-and-port-dependent mapping (random port per destination) /
#                       address-and-port-dependent filtering
#   none                no NAT box at all: the peer sits on the public segment
# and, for the IPv6 scenarios, a dual-stack home router ("ds"): port-restricted NAT for IPv4,
# a stateful firewall without NAT for IPv6 (natlab_firewall6_ruleset).
# No type hairpins (RFC 4787 REQ-9 is not met on purpose: that is a later issue's concern).
# Every type drops unsolicited traffic addressed to the NAT box itself, as home routers do.

NATLAB_TYPES=(none full-cone address-restricted port-restricted symmetric)
NATLAB_BOX_TYPES=(full-cone address-restricted port-restricted symmetric)

# natlab_type_name NAME → prints the canonical type name (accepts short forms), or fails.
natlab_type_name() {
  case "$1" in
    none|open|public) echo none ;;
    full-cone|full|fc) echo full-cone ;;
    address-restricted|addr-restricted|addr|ar) echo address-restricted ;;
    port-restricted|port|pr) echo port-restricted ;;
    symmetric|sym) echo symmetric ;;
    *) return 1 ;;
  esac
}

# natlab_short_name TYPE → a four-letter label (namespace names, the matrix).
natlab_short_name() {
  case "$1" in
    none) echo none ;; full-cone) echo full ;; address-restricted) echo addr ;;
    port-restricted) echo port ;; symmetric) echo sym ;; *) echo "$1" ;;
  esac
}

# natlab_type_index TYPE → 1..4 for the NAT box types (the digit in their addresses).
natlab_type_index() {
  case "$1" in
    full-cone) echo 1 ;; address-restricted) echo 2 ;; port-restricted) echo 3 ;; symmetric) echo 4 ;;
    *) return 1 ;;
  esac
}

# natlab_ruleset TYPE WAN_IP INSIDE_IP → prints the nftables ruleset for one NAT box.
# INSIDE_IP is the host that full-cone and address-restricted forward unsolicited inbound UDP to
# (one inside host, like a home router's "DMZ host"; the kernel has no per-mapping cone NAT).
# Chain "loss" starts empty; natlab_loss_rule fills it to drop a share of forwarded UDP.
natlab_ruleset() {
  local type=$1 wan_ip=$2 inside_ip=$3
  local set_decl="" set_update="" dnat_rule="" dnat_accept="" snat_flags=""
  case "$type" in
    full-cone)
      # Endpoint-independent filtering: any inbound UDP to WAN:p goes to inside:p. With the
      # port-preserving SNAT below, WAN:p is the mapping inside:p got for every destination.
      dnat_rule="iifname \"wan\" meta l4proto udp dnat to $inside_ip"
      dnat_accept="iifname \"wan\" ct status dnat accept"
      ;;
    address-restricted)
      # Address-dependent filtering: remember (remote address, inside port) for every datagram
      # the inside sends; admit inbound UDP only from a remembered address to that port.
      set_decl="set contacted { type ipv4_addr . inet_service; flags dynamic, timeout; timeout 120s; }"
      set_update="iifname \"lan\" oifname \"wan\" meta l4proto udp update @contacted { ip daddr . udp sport }"
      dnat_rule="iifname \"wan\" meta l4proto udp ip saddr . udp dport @contacted dnat to $inside_ip"
      dnat_accept="iifname \"wan\" ct status dnat accept"
      ;;
    port-restricted)
      # The kernel's default: conntrack admits only replies to what the inside sent (same
      # remote address and port). SNAT keeps the inside port when it is free.
      ;;
    symmetric)
      # A fresh random external port for every new conntrack entry, i.e. per destination.
      snat_flags="fully-random"
      ;;
    *) echo "natlab_ruleset: no ruleset for NAT type '$type'" >&2; return 1 ;;
  esac
  cat <<EOF
table ip natlab {
  $set_decl
  chain loss {
  }
  chain input {
    type filter hook input priority filter; policy drop;
    iif "lo" accept
    ct state established,related accept
    iifname "lan" meta l4proto icmp accept
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    jump loss
    $set_update
    ct state established,related accept
    iifname "lan" oifname "wan" accept
    $dnat_accept
  }
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    $dnat_rule
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" snat to $wan_ip $snat_flags
  }
}
EOF
}

# natlab_firewall6_ruleset → prints the IPv6 half of a dual-stack home router (the "ds" boxes):
# no NAT, the common IPv6 home setup, a stateful firewall. Outbound new flows are allowed;
# inbound only what conntrack calls established or related (a reply from the exact remote
# address and port the inside sent to: address-and-port-dependent filtering, as
# port-restricted, but without translation). ICMPv6 to the box itself is accepted, so that
# neighbour discovery works; nothing unsolicited reaches the box or the inside.
natlab_firewall6_ruleset() {
  cat <<EOF
table ip6 natlab6 {
  chain loss {
  }
  chain input {
    type filter hook input priority filter; policy drop;
    iif "lo" accept
    ct state established,related accept
    meta l4proto ipv6-icmp accept
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    jump loss
    ct state established,related accept
    iifname "lan" oifname "wan" accept
  }
}
EOF
}

# natlab_loss_rule PERCENT → the rule for chain "loss": drop PERCENT% of forwarded UDP, both
# directions, at random (no netem in this kernel).
natlab_loss_rule() {
  echo "meta l4proto udp numgen random mod 100 < $1 counter drop comment \"$1% loss\""
}
