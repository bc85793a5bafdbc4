#!/usr/bin/env bash
# The NAT lab's plumbing: network namespaces, switches (bridges), veth links, NAT boxes,
# bounded process handling and cleanup. Sourced by selftest.sh, run_pair.sh and matrix.sh.
#
# Run directly for the housekeeping commands:
#   lab.sh up TYPE_A TYPE_B [--loss N]   build a lab, print how to enter it, keep it until Ctrl-C
#   lab.sh gc                            delete namespaces left by lab runs whose process is gone
#
# Topology (one per pair run, torn down after it; see docs/nat-lab.md for the picture):
#   switch "pub" (203.0.113.0/24, the internet): broker .10, probe host "far" .20,
#     side a: NAT "nata" wan .11 | or the peer itself at .21 (type none)
#     side b: NAT "natb" wan .12 | or the peer itself at .22 (type none)
#   switch "lana" (10.1.0.0/24): nata lan .1, peer "a" .2 (a second peer "a2" .3 for same-NAT)
#   switch "lanb" (10.2.0.0/24): natb lan .1, peer "b" .2
#   carrier-grade NAT on side a: "cgna" wan 203.0.113.31, switch "cara" (100.64.1.0/24),
#     cgna lan 100.64.1.1, nata wan 100.64.1.2 (default route via 100.64.1.1)
# Every address lives only inside namespaces this run made; nothing is routed to the host.

NATLAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=nat_types.sh
source "$NATLAB_DIR/nat_types.sh"
# shellcheck source=expectations.sh
source "$NATLAB_DIR/expectations.sh"

LAB_RUN="natlab-$$"       # namespace prefix: unique per run, so two runs never collide
LAB_SEQ=0                 # topologies built by this run
LAB_PREFIX=""             # prefix of the current topology's namespaces
LAB_NS=()                 # every namespace this run made and has not deleted yet
LAB_PIDS=()               # every background process this run started
LAB_FDS=()                # fifo descriptors this shell holds (closed in every child)
LAB_LOGS=""               # this run's scratch directory
LAB_PROC_LIMIT=${NATLAB_PROC_LIMIT:-60}   # hard cap (s) on any process the lab starts
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3 || true)}

LAB_PUB=203.0.113         # TEST-NET-3 (RFC 5737): the lab's "internet"
LAB_BROKER_IP=$LAB_PUB.10
LAB_FAR_IP=$LAB_PUB.20
LAB_BROKER_PORT=3478

declare -A LAB_HOST_NS=() LAB_HOST_IP=() LAB_PUBLIC_IP=() LAB_NAT_NS=() LAB_TYPE=()

lab_log() { printf '%s\n' "$*" >&2; }
lab_die() { printf 'natlab: %s\n' "$*" >&2; exit 1; }
# join_notes TEXT... → the TEXTs joined by "; ".
join_notes() { local out="" x; for x in "$@"; do out+="${out:+; }$x"; done; printf '%s' "$out"; }
# elapsed START → seconds since START (an $EPOCHREALTIME), one decimal.
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
# run CMD...: a setup step that must work; the EXIT trap cleans up when it does not.
run() { "$@" || lab_die "failed: $*"; }

# lab_preflight [NEED_PYTHON] → prints "SKIPPED: <reason>" and exits 0 when the lab cannot run here.
lab_preflight() {
  local why="" probe="natlab-$$-preflight"
  if [[ $(id -u) -ne 0 ]]; then why="needs root (network namespaces and nftables), running as uid $(id -u)"
  elif ! command -v ip >/dev/null; then why="'ip' (iproute2) is not installed"
  elif ! command -v nft >/dev/null; then why="'nft' (nftables) is not installed"
  elif ! command -v timeout >/dev/null; then why="'timeout' (coreutils) is not installed"
  elif [[ -z "$PYTHON" ]]; then why="python3 is not installed (the lab's UDP probe needs it)"
  elif ! ip netns add "$probe" 2>/dev/null; then why="cannot create a network namespace (no CAP_SYS_ADMIN/CAP_NET_ADMIN?)"
  else
    if ! ip -n "$probe" link add v0 type veth peer name v1 2>/dev/null; then
      why="cannot create veth pairs in a network namespace"
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

# lab_init: scratch directory and traps; call once per script run, after lab_preflight.
lab_init() {
  LAB_LOGS=$(mktemp -d "${TMPDIR:-/tmp}/natlab.XXXXXX") || lab_die "cannot make a scratch directory"
  trap 'lab_cleanup' EXIT
  trap 'lab_log "natlab: interrupted"; exit 130' INT
  trap 'lab_log "natlab: terminated"; exit 143' TERM
}

lab_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
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

# lab_alive PID
lab_alive() { kill -0 "$1" 2>/dev/null; }

# lab_wait_exit PID SECONDS → waits at most SECONDS; sets LAB_STATUS (exit code, or "running").
lab_wait_exit() {
  local pid=$1 tries=$(( $2 * 20 ))
  while (( tries-- > 0 )) && lab_alive "$pid"; do sleep 0.05; done
  if lab_alive "$pid"; then LAB_STATUS=running; return 1; fi
  wait "$pid" 2>/dev/null
  LAB_STATUS=$?
  return 0
}

# lab_stop PID → TERM, then KILL after a second; reaps it.
lab_stop() {
  local pid=$1
  lab_alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
  kill -TERM "$pid" 2>/dev/null
  lab_wait_exit "$pid" 1 || { kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
  return 0
}

# lab_wait_for FILE ERE SECONDS [PID] → 0 once a line of FILE matches ERE; 1 after SECONDS;
# 2 when PID exited first (checked once more after it did, so a last line still counts).
lab_wait_for() {
  local file=$1 re=$2 tries=$(( $3 * 20 )) pid=${4:-}
  while (( tries-- > 0 )); do
    grep -Eq -- "$re" "$file" 2>/dev/null && return 0
    if [[ -n "$pid" ]] && ! lab_alive "$pid"; then
      grep -Eq -- "$re" "$file" 2>/dev/null && return 0
      return 2
    fi
    sleep 0.05
  done
  return 1
}

# lab_open_fifo PATH → makes a fifo and holds it open read-write here (never blocks); sets LAB_FD.
lab_open_fifo() {
  run mkfifo "$1"
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

# --- namespaces and links --------------------------------------------------------------

lab_ns_name() { echo "$LAB_PREFIX-$1"; }

# lab_ns SHORT → a namespace with loopback up, no IPv6 (keeps host candidates and logs to the
# lab's IPv4 plan) and no bridge netfilter (bridged frames must not pass through NAT rules).
lab_ns() {
  local ns; ns=$(lab_ns_name "$1")
  run ip netns add "$ns"
  LAB_NS+=("$ns")
  run ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
  ip netns exec "$ns" sysctl -qw net.bridge.bridge-nf-call-iptables=0 2>/dev/null
  return 0
}

# lab_switch SHORT → a namespace holding bridge br0: an Ethernet switch with no address.
lab_switch() {
  lab_ns "$1"
  run ip -n "$(lab_ns_name "$1")" link add br0 type bridge
  run ip -n "$(lab_ns_name "$1")" link set br0 up
}

# lab_link HOST IFNAME SWITCH CIDR → plugs HOST's new interface IFNAME into SWITCH.
lab_link() {
  local host=$1 ifname=$2 sw=$3 cidr=$4 hns sns
  hns=$(lab_ns_name "$host"); sns=$(lab_ns_name "$sw")
  run ip -n "$hns" link add "$ifname" type veth peer name "to-$host" netns "$sns"
  run ip -n "$sns" link set "to-$host" master br0 up
  run ip -n "$hns" addr add "$cidr" dev "$ifname"
  run ip -n "$hns" link set "$ifname" up
}

# lab_nat_box SHORT TYPE WAN_IP INSIDE_IP LOSS → turns namespace SHORT into a NAT of TYPE.
lab_nat_box() {
  local ns ruleset; ns=$(lab_ns_name "$1")
  run ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
  ruleset=$(natlab_ruleset "$2" "$3" "$4" "$5") || lab_die "no ruleset for NAT type '$2'"
  printf '%s\n' "$ruleset" | ip netns exec "$ns" nft -f - || lab_die "nft rejected the $2 ruleset in $ns"
}

# lab_up → a new, empty topology: the public switch, the broker's host and a far probe host.
lab_up() {
  lab_down
  LAB_SEQ=$((LAB_SEQ + 1))
  LAB_PREFIX="$LAB_RUN-$LAB_SEQ"
  LAB_HOST_NS=(); LAB_HOST_IP=(); LAB_PUBLIC_IP=(); LAB_NAT_NS=(); LAB_TYPE=()
  lab_switch pub
  lab_ns brk; lab_link brk eth0 pub "$LAB_BROKER_IP/24"
  lab_ns far; lab_link far eth0 pub "$LAB_FAR_IP/24"
}

# lab_side SIDE TYPE [--loss N] [--cgn CGN_TYPE] → puts peer host SIDE (a or b) behind a NAT of
# TYPE (or on the public switch for none); --cgn puts a carrier-grade NAT in front of that NAT.
lab_side() {
  local side=$1 type=$2 loss=0 cgn="" i
  shift 2
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --loss) loss=$2; shift ;;
      --cgn) cgn=$2; shift ;;
      *) lab_die "lab_side: unknown option $1" ;;
    esac
    shift
  done
  case "$side" in a) i=1 ;; b) i=2 ;; *) lab_die "lab_side: side must be a or b" ;; esac
  LAB_TYPE[$side]=$type
  LAB_HOST_NS[$side]=$(lab_ns_name "$side")
  if [[ "$type" == none ]]; then
    lab_ns "$side"; lab_link "$side" eth0 pub "$LAB_PUB.2$i/24"
    LAB_HOST_IP[$side]=$LAB_PUB.2$i; LAB_PUBLIC_IP[$side]=$LAB_PUB.2$i
    return
  fi
  local nat="nat$side" lan="lan$side" wan_ip="$LAB_PUB.1$i"
  lab_ns "$nat"
  if [[ -n "$cgn" ]]; then
    local cg="cgn$side" carrier="car$side"
    lab_ns "$cg"; lab_switch "$carrier"
    lab_link "$cg" wan pub "$LAB_PUB.3$i/24"
    lab_link "$cg" lan "$carrier" "100.64.$i.1/24"
    lab_nat_box "$cg" "$cgn" "$LAB_PUB.3$i" "100.64.$i.2" "$loss"
    lab_link "$nat" wan "$carrier" "100.64.$i.2/24"
    run ip -n "$(lab_ns_name "$nat")" route add default via "100.64.$i.1"
    wan_ip=100.64.$i.2
    LAB_PUBLIC_IP[$side]=$LAB_PUB.3$i; LAB_NAT_NS[$side]=$(lab_ns_name "$cg")
  else
    lab_link "$nat" wan pub "$wan_ip/24"
    LAB_PUBLIC_IP[$side]=$wan_ip; LAB_NAT_NS[$side]=$(lab_ns_name "$nat")
  fi
  lab_switch "$lan"
  lab_link "$nat" lan "$lan" "10.$i.0.1/24"
  lab_nat_box "$nat" "$type" "$wan_ip" "10.$i.0.2" "$loss"
  lab_ns "$side"; lab_link "$side" eth0 "$lan" "10.$i.0.2/24"
  run ip -n "${LAB_HOST_NS[$side]}" route add default via "10.$i.0.1"
  LAB_HOST_IP[$side]=10.$i.0.2
}

# lab_side_beside SIDE OTHER → puts peer host SIDE on OTHER's private network, behind the same NAT.
lab_side_beside() {
  local side=$1 other=$2 i
  case "$other" in a) i=1 ;; b) i=2 ;; esac
  [[ "${LAB_TYPE[$other]}" != none ]] || lab_die "lab_side_beside: side $other has no NAT"
  LAB_TYPE[$side]=${LAB_TYPE[$other]}
  LAB_HOST_NS[$side]=$(lab_ns_name "$side")
  lab_ns "$side"; lab_link "$side" eth0 "lan$other" "10.$i.0.3/24"
  run ip -n "${LAB_HOST_NS[$side]}" route add default via "10.$i.0.1"
  LAB_HOST_IP[$side]=10.$i.0.3
  LAB_PUBLIC_IP[$side]=${LAB_PUBLIC_IP[$other]}; LAB_NAT_NS[$side]=${LAB_NAT_NS[$other]}
}

# lab_down → stops every process this run started, then deletes every namespace it made.
lab_down() {
  local pid ns
  for pid in "${LAB_PIDS[@]}"; do lab_alive "$pid" && kill -TERM "$pid" 2>/dev/null; done
  for ns in "${LAB_NS[@]}"; do
    # Anything still inside our namespaces was started by us (under `timeout` or by a probe).
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  done
  for pid in "${LAB_PIDS[@]}"; do
    lab_alive "$pid" && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  for ns in "${LAB_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
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
      [[ $# -ge 3 ]] || lab_die "usage: lab.sh up TYPE_A TYPE_B [--loss N]"
      lab_preflight; lab_init
      local ta tb; ta=$(natlab_type_name "$2") || lab_die "unknown NAT type '$2'"
      tb=$(natlab_type_name "$3") || lab_die "unknown NAT type '$3'"
      shift 3
      lab_up; lab_side a "$ta" "$@"; lab_side b "$tb" "$@"
      echo "lab is up (namespaces $LAB_PREFIX-*): broker host $LAB_BROKER_IP"
      echo "  a ($ta): ip netns exec ${LAB_HOST_NS[a]} bash    address ${LAB_HOST_IP[a]}, public ${LAB_PUBLIC_IP[a]}"
      echo "  b ($tb): ip netns exec ${LAB_HOST_NS[b]} bash    address ${LAB_HOST_IP[b]}, public ${LAB_PUBLIC_IP[b]}"
      echo "  broker:  ip netns exec $(lab_ns_name brk) bash"
      echo "Ctrl-C (or 10 minutes) tears it down."
      local n=600; while (( n-- > 0 )); do sleep 1; done
      ;;
    *) sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; [[ -z "${1:-}" ]] || exit 2 ;;
  esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then lab_main "$@"; fi
