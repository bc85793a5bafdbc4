#!/usr/bin/env bash
# The NAT lab's port-mapping scenario (issue 17): two symmetric kernel NATs (nftables,
# fully-random source ports), one of them a real router that answers PCP, NAT-PMP and UPnP IGD
# (Debian's miniupnpd-nftables, started here in that box's namespace with its own config).
# alice behind it asks for a mapping; bob connects to her and must use the `mapped` path,
# not the relay (which runs, so that a fallback would show). Three times: with the router
# answering PCP, then only NAT-PMP, then only UPnP IGD (the other protocols filtered), so that
# each client of the session is tried against a real router.
#
#   portmap.sh --broker PATH --peer PATH --relay PATH [--miniupnpd PATH]
#
# Prints "SKIPPED: <reason>" and exits 0 without root, namespaces, nftables or miniupnpd.
#
# miniupnpd 2.3.1 refuses to map anything while its WAN address is in a reserved range
# (RFC 1918, 100.64/10, the documentation ranges): the lab's usual 203.0.113/24 does not do.
# So this lab's "internet" is 100.128.0.0/24, just outside 100.64/10. It exists only in the
# namespaces below, built from nothing by this script and joined only by veth pairs between
# them; before anything starts, the script checks that the machine's own namespace has no
# address in it and no veth into ours, so no packet of the lab can reach a real network.
set -u
NATLAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.sh
source "$NATLAB_DIR/lab.sh"

PM_NET=100.128.0
PM_BROKER=$PM_NET.10
BROKER_BIN="" PEER_BIN="" RELAY_BIN="" MINIUPNPD=$(command -v miniupnpd || echo /usr/sbin/miniupnpd)
while (($#)); do
  case "$1" in
    --broker) BROKER_BIN=$2; shift 2 ;;
    --peer) PEER_BIN=$2; shift 2 ;;
    --relay) RELAY_BIN=$2; shift 2 ;;
    --miniupnpd) MINIUPNPD=$2; shift 2 ;;
    *) lab_die "unknown option $1" ;;
  esac
done
[[ -x "$BROKER_BIN" && -x "$PEER_BIN" && -x "$RELAY_BIN" ]] || lab_die "give --broker, --peer and --relay binaries"

lab_preflight
if [[ ! -x "$MINIUPNPD" ]]; then echo "SKIPPED: miniupnpd is not installed (Debian: miniupnpd-nftables)"; exit 0; fi

# The topology: "pub" (a switch, the lab's internet) with the broker host and two boxes'
# WAN sides; behind "rtr-a" (miniupnpd) alice, behind "rtr-b" bob. Both boxes symmetric.
lab_describe() { lab_describe_pair "$PM_NET" symmetric rtr-a rtr-b; }

# The lab is closed: nothing of it in the machine's own namespace.
assert_isolated() {
  if ip -o addr show | grep -q " $PM_NET\."; then lab_die "the host namespace has an address in $PM_NET.0/24: refusing to run"; fi
  if ip -o link show type veth 2>/dev/null | grep -q "link-netns $LAB_PREFIX-"; then
    lab_die "a veth links the host namespace to the lab: refusing to run"
  fi
  local ns
  for ns in "${LAB_NS[@]}"; do
    # Every veth of every lab namespace ends in another lab namespace.
    if ip -n "$ns" -o link show type veth | grep -v "link-netns $LAB_PREFIX-" | grep -q .; then
      lab_die "namespace $ns has a veth that does not end in the lab"
    fi
  done
}

# The router's side for miniupnpd: the chains its config names (the package's nft_init.sh
# wants a miniupnpd_functions.sh it does not ship), PCP/NAT-PMP/SSDP/HTTP from the LAN let in,
# and forwarded traffic that its DNAT rules let in accepted by the lab's own forward chain.
router_rules() {
  cat <<RULES
table inet filter {
  chain forward { type filter hook forward priority filter; policy accept; jump miniupnpd; }
  chain miniupnpd { }
  chain prerouting { type nat hook prerouting priority dstnat; policy accept; jump prerouting_miniupnpd; }
  chain postrouting { type nat hook postrouting priority srcnat; policy accept; jump postrouting_miniupnpd; }
  chain prerouting_miniupnpd { }
  chain postrouting_miniupnpd { }
}
add rule ip natlab input iifname "lan" meta l4proto udp accept
add rule ip natlab input iifname "lan" meta l4proto tcp accept
add rule ip natlab forward iifname "wan" ct status dnat accept
RULES
}

router_config() {
  cat <<CONF
ext_ifname=wan
listening_ip=lan
http_port=0
enable_natpmp=yes
enable_upnp=yes
secure_mode=yes
system_uptime=yes
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b
allow 1024-65535 10.1.0.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
CONF
}

json_path() { sed -n 's/.*"event":"connected".*"path":"\([a-z-]*\)".*/\1/p' "$1" | head -n 1; }

lab_init
lab_up
assert_isolated
RTR=$(lab_ns_name rtr-a)
ip netns exec "$RTR" nft -f - <<<"$(router_rules)" || lab_die "could not load miniupnpd's tables"
router_config >"$LAB_LOGS/miniupnpd.conf"
lab_spawn /dev/null "$LAB_LOGS/miniupnpd.out" "$LAB_LOGS/miniupnpd.err" "$RTR" \
  "$MINIUPNPD" -d -f "$LAB_LOGS/miniupnpd.conf" -P "$LAB_LOGS/miniupnpd.pid"
UPNPD_PID=$LAB_LAST_PID
lab_wait_for "$LAB_LOGS/miniupnpd.err" "Listening for NAT-PMP|HTTP listening" 10 "$UPNPD_PID" ||
  lab_die "miniupnpd did not start: $(tail -n 5 "$LAB_LOGS/miniupnpd.err")"

BRK=$(lab_ns_name brk)
lab_spawn /dev/null "$LAB_LOGS/broker.out" "$LAB_LOGS/broker.err" "$BRK" \
  "$BROKER_BIN" --listen "$PM_BROKER:3478" --other-port 3480 --transport udp
lab_spawn /dev/null "$LAB_LOGS/relay.out" "$LAB_LOGS/relay.err" "$BRK" \
  "$RELAY_BIN" --listen "$PM_BROKER:3479" --transport udp

# pair_over PROTOCOL → alice (behind the router) and bob (behind the other symmetric NAT), ids
# of their own per run; the router answers only PROTOCOL: PCP (everything open), NAT-PMP (PCP
# requests, version 2 on port 5351, dropped) or UPnP IGD (port 5351 dropped). alice must be
# granted by PROTOCOL, bob must connect over her mapping, and her closing must delete it.
pair_over() {
  local proto=$1 a="alice-$1" b="bob-$1" block=""
  case "$proto" in
    pcp) ;;
    natpmp) block='iifname "lan" udp dport 5351 @th,64,8 2 drop' ;;
    upnp) block='iifname "lan" udp dport 5351 drop' ;;
  esac
  ip netns exec "$RTR" nft -f - <<<"flush chain ip pmblock input
${block:+add rule ip pmblock input $block}" || lab_die "could not set the router's filter for $proto"
  # alice waits for bob; her stdin stays open (a fifo we hold) until the end. The broker needs
  # no wait: alice's Register is retransmitted until it answers.
  lab_open_fifo "$LAB_LOGS/$a.in"
  lab_spawn "$LAB_LOGS/$a.in" "$LAB_LOGS/$a.out" "$LAB_LOGS/$a.err" "$(lab_ns_name a)" \
    "$PEER_BIN" --broker "$PM_BROKER:3478" --id "$a" --relay "$PM_BROKER:3479" --bind 0.0.0.0:0 \
    --events --timeout 20 --key "$LAB_LOGS/$a.key"
  local a_pid=$LAB_LAST_PID
  lab_wait_for "$LAB_LOGS/$a.err" '"event":"port_mapped"' 12 "$a_pid" ||
    lab_die "$a reported no port mapping: $(tail -n 5 "$LAB_LOGS/$a.err")"
  local grant; grant=$(grep '"event":"port_mapped"' "$LAB_LOGS/$a.err" | head -n 1)
  echo "$grant" >&2
  [[ "$grant" == *'"protocol":"'"$proto"'"'* ]] ||
    lab_die "$a was not granted a mapping by $proto: $grant; miniupnpd: $(tail -n 5 "$LAB_LOGS/miniupnpd.err")"
  local port=${grant#*\"external\":\"$PM_NET.11:}; port=${port%%\"*}

  lab_open_fifo "$LAB_LOGS/$b.in"
  local b_in=$LAB_FD
  lab_spawn "$LAB_LOGS/$b.in" "$LAB_LOGS/$b.out" "$LAB_LOGS/$b.err" "$(lab_ns_name b)" \
    "$PEER_BIN" --broker "$PM_BROKER:3478" --id "$b" --connect "$a" --relay "$PM_BROKER:3479" --bind 0.0.0.0:0 \
    --events --timeout 15 --key "$LAB_LOGS/$b.key" --no-port-mapping
  local b_pid=$LAB_LAST_PID
  echo "hello over the mapping" >&"$b_in"
  lab_wait_for "$LAB_LOGS/$a.out" "hello over the mapping" 15 "$a_pid" ||
    lab_die "$a did not receive $b's line: $b: $(tail -n 3 "$LAB_LOGS/$b.err"); $a: $(tail -n 3 "$LAB_LOGS/$a.err")"
  local b_path a_path
  b_path=$(json_path "$LAB_LOGS/$b.err"); a_path=$(json_path "$LAB_LOGS/$a.err")
  # End of bob's stdin closes the connection; both exit.
  lab_close_fd "$b_in"
  lab_wait_exit "$b_pid" 5 || true
  [[ "$b_path" == mapped ]] || lab_die "$b connected over '$b_path', not over $a's mapping"
  [[ "$a_path" != relay ]] || lab_die "$a's side went through the relay"
  # alice exits with the connection; her session deletes the mapping on its way out (lifetime
  # 0, or UPnP's DeletePortMapping): miniupnpd's DNAT rule for her port goes.
  lab_wait_exit "$a_pid" 5 || true
  local i
  for ((i = 0; i < 30; i++)); do
    ip netns exec "$RTR" nft list chain inet filter prerouting_miniupnpd | grep -q "dport $port " || break
    sleep 0.1
  done
  ((i < 30)) || lab_die "$a's mapping ($port) was not deleted when she closed: $(tail -n 3 "$LAB_LOGS/miniupnpd.err")"
  echo "portmap $proto: symmetric <-> symmetric, miniupnpd on $a's router granted $PM_NET.11:$port by $proto; $b over mapped, $a over $a_path; deleted on close"
}

ip netns exec "$RTR" nft -f - <<<"table ip pmblock {
  chain input {
    type filter hook input priority -10; policy accept;
  }
}" || lab_die "could not add the router's protocol filter"
for proto in pcp natpmp upnp; do pair_over "$proto"; done
