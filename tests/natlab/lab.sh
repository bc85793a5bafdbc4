#!/usr/bin/env bash
# The NAT lab's plumbing: network namespaces, switches (bridges), veth links, NAT boxes,
# bounded process handling and cleanup. Sourced by selftest.sh, run_pair.sh, matrix.sh,
# portmap.sh and turn.sh.
#
# Run directly for the housekeeping commands:
#   lab.sh up      build the lab, print how to enter each host, keep it until Ctrl-C (max 10 min)
#   lab.sh gc      delete namespaces left by lab runs whose process is gone (e.g. SIGKILLed)
#
# One topology per run, built once (every box of every type at once) and torn down on exit;
# see docs/nat-lab.md for the picture:
#   "pub" (203.0.113.0/24, the internet, a bridge in a namespace of its own):
#     broker "brk" .10, probe host "far" .20,
#     side a: NAT boxes nat-a-{full,addr,port,sym} wan .11-.14, peer host a-none .15
#     side b: NAT boxes nat-b-{full,addr,port,sym} wan .21-.24, peer host b-none .25
#     carrier-grade NAT "cgn" wan .31
#   behind nat-S-T (S = a|b, T's index k = 1..4): bridge "lan" 10.Sk.0.1/24 in the box,
#     peer host S-T at 10.Sk.0.2 (a-port also has a second host, a2-port, at 10.13.0.3)
#   behind cgn: bridge "lan" 100.64.0.1/24, home NAT "nat-c" wan 100.64.0.2,
#     and behind nat-c: 10.31.0.1/24, peer host "c" at 10.31.0.2
#   IPv6 (when the kernel has it): the same switch also carries 2001:db8::/64 (RFC 3849's
#     documentation prefix), "pub" routes it (2001:db8::1), broker 2001:db8::10, far ::20;
#     two dual-stack home routers "ds-a"/"ds-b" (wan 203.0.113.16/.26 and 2001:db8::16/::26:
#     port-restricted NAT for IPv4, a stateful firewall without NAT for IPv6), each with a
#     dual-stack host a-ds/b-ds at 10.S6.0.2 and 2001:db8:S6::2 (S = 1|2).
# Every address lives only inside namespaces this run made; nothing is routed to the host.
# Pairs run one after another on the same boxes; each run binds fresh ports, so conntrack
# entries and address sets left by an earlier run never match a later one.

NATLAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=nat_types.sh
source "$NATLAB_DIR/nat_types.sh"
# shellcheck source=expectations.sh
source "$NATLAB_DIR/expectations.sh"

LAB_PREFIX="natlab-$$"    # namespace prefix: unique per run, so two runs never collide
LAB_NS=()                 # every namespace this run made and has not deleted yet
LAB_ORDER=()              # namespaces in build order (a parent before its children)
LAB_PIDS=()               # every background process this run started
LAB_FDS=()                # fifo descriptors this shell holds (closed in every child)
LAB_LOGS=""               # this run's scratch directory
LAB_PROC_LIMIT=${NATLAB_PROC_LIMIT:-60}   # hard cap (s) on any process the lab starts ...
LAB_RUN_LIMIT=${NATLAB_RUN_LIMIT:-900}    # ... but the broker, which serves a whole run
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3 || true)}

LAB_PUB=203.0.113         # TEST-NET-3 (RFC 5737): the lab's "internet"
LAB_BROKER_IP=$LAB_PUB.10
LAB_FAR_IP=$LAB_PUB.20
LAB_PUB6=2001:db8:        # 2001:db8::/32 (RFC 3849): the internet's IPv6 segment 2001:db8::/64
LAB_ROUTER_IP6=${LAB_PUB6}:1
LAB_BROKER_IP6=${LAB_PUB6}:10
LAB_FAR_IP6=${LAB_PUB6}:20
# 1 when this kernel has IPv6 (lab_describe then builds the dual-stack part; set by lab_up).
LAB_V6=0

# Per peer host role ("a:port-restricted", "b:none", "a2:port-restricted", "c:cgn"): its
# namespace, its own address, the public address the broker sees, and its (outermost) NAT box.
declare -A LAB_HOST_NS=() LAB_HOST_IP=() LAB_PUBLIC_IP=() LAB_BOX_NS=()
# For the dual-stack hosts ("a:ds", "b:ds"): their IPv6 address, which is also what the world
# sees (no NAT), and their box's IPv6 wan address.
declare -A LAB_HOST_IP6=() LAB_BOX_IP6=()
declare -A LAB_BATCH=() LAB_RULES=() LAB_SYSCTL=()

lab_log() { printf '%s\n' "$*" >&2; }
lab_die() { printf 'natlab: %s\n' "$*" >&2; exit 1; }
# join_notes TEXT... → the TEXTs joined by "; ".
join_notes() { local out="" x; for x in "$@"; do out+="${out:+; }$x"; done; printf '%s' "$out"; }
# elapsed START → seconds since START (an $EPOCHREALTIME), one decimal.
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# lab_preflight → prints "SKIPPED: <reason>" and exits 0 when the lab cannot run here.
lab_preflight() {
  local why="" probe="$LAB_PREFIX-preflight"
  if [[ $(id -u) -ne 0 ]]; then why="needs root (network namespaces and nftables), running as uid $(id -u)"
  elif ! command -v ip >/dev/null; then why="'ip' (iproute2) is not installed"
  elif ! command -v nft >/dev/null; then why="'nft' (nftables) is not installed"
  elif ! command -v timeout >/dev/null; then why="'timeout' (coreutils) is not installed"
  elif [[ -z "$PYTHON" ]]; then why="python3 is not installed (the lab's UDP probe needs it)"
  elif ! ip netns add "$probe" 2>/dev/null; then why="cannot create a network namespace (no CAP_SYS_ADMIN/CAP_NET_ADMIN?)"
  else
    if ! ip -n "$probe" link add v0 type veth peer name v1 2>/dev/null; then
      why="cannot create veth pairs in a network namespace"
    elif ! ip -n "$probe" link add b0 type bridge 2>/dev/null; then
      why="cannot create a bridge in a network namespace"
    elif ! printf 'table ip t {\n chain c {\n type nat hook postrouting priority srcnat;\n masquerade fully-random\n }\n}\n' |
        ip netns exec "$probe" nft -f - 2>/dev/null; then
      why="nftables cannot load a NAT ruleset in a network namespace (kernel without nf_tables/nf_nat?)"
    fi
    ip netns del "$probe" 2>/dev/null
  fi
  if [[ -n "$why" ]]; then
    echo "SKIPPED: $why"
    exit 0
  fi
}

# lab_init: scratch directory, traps, and the leftovers of killed runs; call once per script
# run, after lab_preflight.
lab_init() {
  LAB_LOGS=$(mktemp -d "${TMPDIR:-/tmp}/natlab.XXXXXX") || lab_die "cannot make a scratch directory"
  trap 'lab_cleanup' EXIT
  trap 'lab_log "natlab: interrupted"; exit 130' INT
  trap 'lab_log "natlab: terminated"; exit 143' TERM
  trap 'lab_log "natlab: hung up"; exit 129' HUP
  lab_gc >/dev/null
}

lab_cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  lab_down
  if [[ -n "$LAB_LOGS" && -d "$LAB_LOGS" ]]; then
    if [[ -n "${NATLAB_KEEP_LOGS:-}" ]]; then lab_log "natlab: logs kept in $LAB_LOGS"; else rm -rf "$LAB_LOGS"; fi
  fi
  exit "$rc"
}

# --- processes -------------------------------------------------------------------------

# lab_spawn IN OUT ERR NS CMD... → starts CMD in namespace NS in the background, under a hard
# `timeout`; sets LAB_LAST_PID. Closes this shell's fifo descriptors in the child, so that closing
# one here is an EOF for the process reading it.
lab_spawn() {
  local in=$1 out=$2 err=$3 ns=$4; shift 4
  (
    for fd in "${LAB_FDS[@]}"; do eval "exec ${fd}>&-"; done
    exec timeout -k 2 "$LAB_PROC_LIMIT" ip netns exec "$ns" "$@" <"$in" >"$out" 2>"$err"
  ) &
  LAB_LAST_PID=$!
  LAB_PIDS+=("$LAB_LAST_PID")
}

# lab_bg FUNCTION ARGS... → runs a shell function of ours in the background (a line generator,
# a timestamper; each bounds itself); sets LAB_LAST_PID. Like lab_spawn it closes this shell's
# fifo descriptors in the child, so that it never holds a peer's stdin open by accident.
lab_bg() {
  (
    for fd in "${LAB_FDS[@]}"; do eval "exec ${fd}>&-"; done
    "$@"
  ) &
  LAB_LAST_PID=$!
  LAB_PIDS+=("$LAB_LAST_PID")
}

# lab_alive PID
lab_alive() { kill -0 "$1" 2>/dev/null; }

# Waits poll every 50 ms until a deadline on the clock, and at most 20 times per second of
# it besides, so that no wait outlives its deadline however slow the machine is.
# lab_us VAR SECONDS → VAR = SECONDS ("3", "2.5") in microseconds; lab_now VAR → now, in µs.
lab_us() {
  local s=$2 i f=""
  i=${s%%.*}; [[ "$s" == *.* ]] && f=${s#*.}
  f="${f}000000"
  printf -v "$1" '%d' $(( 10#${i:-0} * 1000000 + 10#${f:0:6} ))
}
lab_now() { printf -v "$1" '%s' "${EPOCHREALTIME/./}"; }
# lab_deadline SECONDS → sets LAB_END (µs) and LAB_TRIES for a wait of SECONDS.
lab_deadline() {
  local us now; lab_us us "$1"; lab_now now
  LAB_END=$(( now + us )); LAB_TRIES=$(( us / 50000 + 1 ))
}
# lab_waiting → true while the current wait has time and tries left (sleeps between polls).
lab_waiting() {
  local now; lab_now now
  (( LAB_TRIES-- > 0 && now < LAB_END )) || return 1
  sleep 0.05
}

# lab_wait_exit PID SECONDS → waits at most SECONDS; sets LAB_STATUS (exit code, or "running").
lab_wait_exit() {
  local pid=$1
  lab_deadline "$2"
  while lab_alive "$pid" && lab_waiting; do :; done
  if lab_alive "$pid"; then LAB_STATUS=running; return 1; fi
  wait "$pid" 2>/dev/null
  LAB_STATUS=$?
  return 0
}

# lab_stop PID → TERM, then KILL after two seconds; reaps it.
lab_stop() {
  local pid=$1
  lab_alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
  kill -TERM "$pid" 2>/dev/null
  lab_wait_exit "$pid" 2 || { kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
  return 0
}

# lab_wait_for FILE ERE SECONDS [PID] → 0 once a line of FILE matches ERE; 1 after SECONDS;
# 2 when PID exited first (checked once more after it did, so a last line still counts).
lab_wait_for() {
  local file=$1 re=$2 pid=${4:-}
  lab_deadline "$3"
  while true; do
    grep -Eq -- "$re" "$file" 2>/dev/null && return 0
    if [[ -n "$pid" ]] && ! lab_alive "$pid"; then
      grep -Eq -- "$re" "$file" 2>/dev/null && return 0
      return 2
    fi
    lab_waiting || return 1
  done
}

# lab_open_fifo PATH → makes a fifo and holds it open read-write here (never blocks); sets LAB_FD.
lab_open_fifo() {
  mkfifo "$1" || lab_die "cannot make fifo $1"
  exec {LAB_FD}<>"$1"
  LAB_FDS+=("$LAB_FD")
}

# lab_close_fd FD → closes a fifo descriptor: the reader sees EOF.
lab_close_fd() {
  local fd=$1 keep=() f
  eval "exec ${fd}>&-"
  for f in "${LAB_FDS[@]}"; do [[ "$f" != "$fd" ]] && keep+=("$f"); done
  LAB_FDS=("${keep[@]}")
}

# --- the topology: described first, then built with one `ip -batch` per namespace ---------

lab_ns_name() { echo "$LAB_PREFIX-$1"; }

# lab_node SHORT → a namespace to build (loopback up).
lab_node() {
  LAB_ORDER+=("$1")
  LAB_BATCH[$1]="link set lo up"$'\n'
}

# lab_cmd SHORT LINE → an `ip` command (without "ip") to run in SHORT's namespace.
lab_cmd() { LAB_BATCH[$1]+="$2"$'\n'; }

# lab_switch SHORT BRIDGE [CIDR] → a bridge in SHORT (an Ethernet switch; with CIDR, SHORT's LAN side).
lab_switch() {
  lab_cmd "$1" "link add $2 type bridge"
  lab_cmd "$1" "link set $2 addrgenmode none"
  [[ -z "${3:-}" ]] || lab_cmd "$1" "addr add $3 dev $2"
  lab_cmd "$1" "link set $2 up"
}

# lab_plug PARENT BRIDGE CHILD IFNAME CIDR [GATEWAY] → a veth from PARENT's BRIDGE to CHILD's
# new interface IFNAME. No IPv6 link-local addresses ("addrgenmode none"), so host candidates
# and captures stay in the lab's address plan; the dual-stack part adds global IPv6
# addresses by hand (lab_addr6), and neighbour discovery works with those alone.
lab_plug() {
  local parent=$1 br=$2 child=$3 ifname=$4 cidr=$5 gw=${6:-} port="to-$3"
  lab_cmd "$parent" "link add $port type veth peer name $ifname netns $(lab_ns_name "$child")"
  lab_cmd "$parent" "link set $port addrgenmode none"
  lab_cmd "$parent" "link set $port master $br"
  lab_cmd "$parent" "link set $port up"
  lab_cmd "$child" "link set $ifname addrgenmode none"
  lab_cmd "$child" "addr add $cidr dev $ifname"
  lab_cmd "$child" "link set $ifname up"
  [[ -z "$gw" ]] || lab_cmd "$child" "route add default via $gw"
}

# lab_addr6 SHORT IFNAME CIDR6 [GATEWAY6] → an IPv6 address (no duplicate address detection:
# it is usable at once, not "tentative" for a second) and a default route.
lab_addr6() {
  lab_cmd "$1" "addr add $3 dev $2 nodad"
  [[ -z "${4:-}" ]] || lab_cmd "$1" "route add ::/0 via $4"
}

# lab_router6 SHORT IFNAME LINK_LOCAL → a link-local address on an interface that forwards
# IPv6: a router resolves the next hop of a forwarded packet with a neighbour solicitation
# sent from its link-local address, and without one it sends none (a host's own packets
# carry its global address, which does).
lab_router6() { lab_cmd "$1" "addr add $3/64 dev $2 nodad"; }

# lab_box SHORT TYPE WAN_IP LAN_CIDR INSIDE_IP → NAT box SHORT with a "lan" bridge and TYPE's
# rules (loaded after the links exist). Its "wan" is plugged in by the caller.
lab_box() {
  lab_node "$1"
  lab_switch "$1" lan "$4"
  LAB_RULES[$1]=$(natlab_ruleset "$2" "$3" "$5") || lab_die "no ruleset for NAT type '$2'"
}

# lab_host ROLE SHORT IP PUBLIC_IP BOX_SHORT → records a peer host.
lab_host() {
  LAB_HOST_NS[$1]=$(lab_ns_name "$2"); LAB_HOST_IP[$1]=$3; LAB_PUBLIC_IP[$1]=$4
  LAB_BOX_NS[$1]=${5:+$(lab_ns_name "$5")}
}

# lab_describe → the whole topology (see the header), not built yet.
lab_describe() {
  local side i type k short wan
  lab_node pub; lab_switch pub br0
  lab_node brk; lab_plug pub br0 brk eth0 "$LAB_BROKER_IP/24"
  lab_node far; lab_plug pub br0 far eth0 "$LAB_FAR_IP/24"
  for side in a b; do
    i=$([[ $side == a ]] && echo 1 || echo 2)
    lab_node "$side-none"; lab_plug pub br0 "$side-none" eth0 "$LAB_PUB.${i}5/24"
    lab_host "$side:none" "$side-none" "$LAB_PUB.${i}5" "$LAB_PUB.${i}5" ""
    for type in "${NATLAB_BOX_TYPES[@]}"; do
      k=$(natlab_type_index "$type"); short=$(natlab_short_name "$type"); wan=$LAB_PUB.$i$k
      lab_box "nat-$side-$short" "$type" "$wan" "10.$i$k.0.1/24" "10.$i$k.0.2"
      lab_plug pub br0 "nat-$side-$short" wan "$wan/24"
      lab_node "$side-$short"; lab_plug "nat-$side-$short" lan "$side-$short" eth0 "10.$i$k.0.2/24" "10.$i$k.0.1"
      lab_host "$side:$type" "$side-$short" "10.$i$k.0.2" "$wan" "nat-$side-$short"
    done
  done
  # Two peers behind one NAT: a second host beside a-port.
  lab_node a2-port; lab_plug nat-a-port lan a2-port eth0 "10.13.0.3/24" "10.13.0.1"
  lab_host "a2:port-restricted" a2-port 10.13.0.3 "$LAB_PUB.13" nat-a-port
  # A home NAT behind a carrier-grade NAT (both port-restricted; RFC 6598 shared space between).
  lab_box cgn port-restricted "$LAB_PUB.31" 100.64.0.1/24 100.64.0.2
  lab_plug pub br0 cgn wan "$LAB_PUB.31/24"
  lab_box nat-c port-restricted 100.64.0.2 10.31.0.1/24 10.31.0.2
  lab_plug cgn lan nat-c wan 100.64.0.2/24 100.64.0.1
  lab_node c; lab_plug nat-c lan c eth0 10.31.0.2/24 10.31.0.1
  lab_host "c:cgn" c 10.31.0.2 "$LAB_PUB.31" cgn
  (( LAB_V6 )) && lab_describe_v6
  return 0
}

# lab_describe_v6 → the dual-stack part: "pub" routes the internet's IPv6 segment; the broker
# and "far" get IPv6 addresses; two dual-stack home routers with a dual-stack host each.
lab_describe_v6() {
  local side i wan4 wan6 lan6
  lab_addr6 pub br0 "$LAB_ROUTER_IP6/64"; lab_router6 pub br0 fe80::1
  LAB_SYSCTL[pub]="net.ipv6.conf.all.forwarding=1"
  lab_addr6 brk eth0 "$LAB_BROKER_IP6/64" "$LAB_ROUTER_IP6"
  lab_addr6 far eth0 "$LAB_FAR_IP6/64" "$LAB_ROUTER_IP6"
  for side in a b; do
    i=$([[ $side == a ]] && echo 1 || echo 2)
    wan4=$LAB_PUB.${i}6 wan6=${LAB_PUB6}:${i}6 lan6=2001:db8:${i}6:
    lab_box "ds-$side" port-restricted "$wan4" "10.${i}6.0.1/24" "10.${i}6.0.2"
    LAB_RULES[ds-$side]+=$'\n'$(natlab_firewall6_ruleset)
    LAB_SYSCTL[ds-$side]="net.ipv6.conf.all.forwarding=1 net.bridge.bridge-nf-call-ip6tables=0"
    lab_addr6 "ds-$side" lan "$lan6:1/64"; lab_router6 "ds-$side" lan fe80::1
    lab_plug pub br0 "ds-$side" wan "$wan4/24"
    lab_addr6 "ds-$side" wan "$wan6/64" "$LAB_ROUTER_IP6"; lab_router6 "ds-$side" wan "fe80::${i}6"
    lab_cmd pub "route add $lan6:/64 via $wan6"
    lab_node "$side-ds"; lab_plug "ds-$side" lan "$side-ds" eth0 "10.${i}6.0.2/24" "10.${i}6.0.1"
    lab_addr6 "$side-ds" eth0 "$lan6:2/64" "$lan6:1"
    lab_host "$side:ds" "$side-ds" "10.${i}6.0.2" "$wan4" "ds-$side"
    LAB_HOST_IP6[$side:ds]=$lan6:2; LAB_BOX_IP6[$side:ds]=$wan6
  done
}

# lab_describe_pair NET TYPE BOX_A BOX_B → a small topology for one pair, for scenario scripts
# that describe their own lab: "pub" (a switch, the internet NET.0/24, NET.1 on it), the broker
# host "brk" at NET.10, and two NAT boxes of TYPE (BOX_A wan NET.11, BOX_B wan NET.12) with a
# peer host each behind them: "a" at 10.1.0.2, "b" at 10.2.0.2.
lab_describe_pair() {
  local net=$1 type=$2
  lab_node pub
  lab_switch pub sw "$net.1/24"
  lab_node brk
  lab_plug pub sw brk eth0 "$net.10/24" "$net.1"
  lab_box "$3" "$type" "$net.11" 10.1.0.1/24 10.1.0.2
  lab_plug pub sw "$3" wan "$net.11/24" "$net.1"
  lab_node a
  lab_plug "$3" lan a eth0 10.1.0.2/24 10.1.0.1
  lab_box "$4" "$type" "$net.12" 10.2.0.1/24 10.2.0.2
  lab_plug pub sw "$4" wan "$net.12/24" "$net.1"
  lab_node b
  lab_plug "$4" lan b eth0 10.2.0.2/24 10.2.0.1
}

# lab_up → builds the whole lab: namespaces, links, NAT rules.
lab_up() {
  local s ns list=""
  [[ -d /proc/sys/net/ipv6 ]] && LAB_V6=1
  lab_describe
  for s in "${LAB_ORDER[@]}"; do ns=$(lab_ns_name "$s"); list+="netns add $ns"$'\n'; LAB_NS+=("$ns"); done
  ip -batch - <<<"$list" >/dev/null || lab_die "could not create the lab's namespaces"
  for s in "${LAB_ORDER[@]}"; do
    ip -n "$(lab_ns_name "$s")" -batch - <<<"${LAB_BATCH[$s]}" ||
      lab_die "could not build namespace $s (ip batch above)"
  done
  for s in "${!LAB_RULES[@]}"; do
    # bridge-nf off (when br_netfilter is loaded): frames switched on a box's LAN bridge
    # must not pass through its NAT rules.
    ip netns exec "$(lab_ns_name "$s")" sh -c \
      "sysctl -eqw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=0 ${LAB_SYSCTL[$s]:-} && nft -f -" \
      <<<"${LAB_RULES[$s]}" || lab_die "could not load the NAT rules of $s"
  done
  # Namespaces without rules that still need a setting (the IPv6 router "pub").
  for s in "${!LAB_SYSCTL[@]}"; do
    [[ -z "${LAB_RULES[$s]:-}" ]] || continue
    # shellcheck disable=SC2086 # one word per setting
    ip netns exec "$(lab_ns_name "$s")" sysctl -eqw ${LAB_SYSCTL[$s]} || lab_die "could not set ${LAB_SYSCTL[$s]} in $s"
  done
}

# lab_loss BOX_NS PERCENT → PERCENT% random loss on BOX_NS's forwarded UDP (0: none).
lab_loss() {
  local rules="flush chain ip natlab loss"$'\n'
  (( $2 > 0 )) && rules+="add rule ip natlab loss $(natlab_loss_rule "$2")"$'\n'
  ip netns exec "$1" nft -f - <<<"$rules" || lab_die "could not set $2% loss on $1"
}

# lab_snat BOX_NS WAN_IP [PORTS] → the box's source NAT now maps to WAN_IP (keeping the inside
# port when it is free), or to a port in PORTS ("40000-49999"). Mappings already in the
# conntrack table keep their ports: flush them (lab_conntrack_flush) for new ones.
lab_snat() {
  local rules="flush chain ip natlab postrouting"$'\n'
  # A port range needs a protocol with ports; the rest (ICMP) keeps the plain address.
  [[ -z "${3:-}" ]] || rules+="add rule ip natlab postrouting oifname \"wan\" meta l4proto { tcp, udp } snat to $2:$3"$'\n'
  rules+="add rule ip natlab postrouting oifname \"wan\" snat to $2"$'\n'
  ip netns exec "$1" nft -f - <<<"$rules" || lab_die "could not make $1 map to $2${3:+:$3}"
}

# lab_conntrack_flush BOX_NS → forgets every connection and mapping the box tracks (what a
# reboot does); the namespace's own table only.
lab_conntrack_flush() {
  ip netns exec "$1" conntrack -F 2>/dev/null || lab_die "conntrack -F failed in $1"
}

# lab_down → stops every process this run started, then deletes every namespace it made.
lab_down() {
  local pid ns list=""
  for pid in "${LAB_PIDS[@]}"; do lab_alive "$pid" && kill -TERM "$pid" 2>/dev/null; done
  for ns in "${LAB_NS[@]}"; do
    # Anything still inside our namespaces was started by us (under `timeout`).
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    list+="netns del $ns"$'\n'
  done
  for pid in "${LAB_PIDS[@]}"; do
    lab_alive "$pid" && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  [[ -z "$list" ]] || ip -force -batch - <<<"$list" >/dev/null 2>&1
  for pid in "${LAB_FDS[@]}"; do eval "exec ${pid}>&-"; done
  LAB_PIDS=(); LAB_NS=(); LAB_FDS=()
  return 0
}

# lab_gc → deletes namespaces named natlab-PID-* whose PID no longer runs (a run killed by SIGKILL).
lab_gc() {
  local ns pid p n=0
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^natlab-[0-9]+-'); do
    pid=${ns#natlab-}; pid=${pid%%-*}
    kill -0 "$pid" 2>/dev/null && continue
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$ns" && n=$((n + 1))
  done
  echo "natlab gc: deleted $n stale namespace(s)"
}

lab_main() {
  set -uo pipefail
  case "${1:-}" in
    gc) lab_gc ;;
    up)
      lab_preflight; lab_init; lab_up
      local role
      echo "lab is up: ${#LAB_NS[@]} namespaces $LAB_PREFIX-*; broker host: ip netns exec $(lab_ns_name brk) bash ($LAB_BROKER_IP$( (( LAB_V6 )) && echo ", $LAB_BROKER_IP6"))"
      for role in $(printf '%s\n' "${!LAB_HOST_NS[@]}" | sort); do
        printf '  %-22s ip netns exec %-24s # %s, public %s%s\n' "$role" "${LAB_HOST_NS[$role]} bash" \
          "${LAB_HOST_IP[$role]}" "${LAB_PUBLIC_IP[$role]}" "${LAB_HOST_IP6[$role]:+; IPv6 ${LAB_HOST_IP6[$role]} (firewall, no NAT)}"
      done
      echo "Ctrl-C (or 10 minutes) tears it down."
      local n=600; while (( n-- > 0 )); do sleep 1; done
      ;;
    *) sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; [[ -z "${1:-}" ]] || exit 2 ;;
  esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then lab_main "$@"; fi
