#!/usr/bin/env bash
# The NAT lab's selftest: proves each NAT box behaves as its type claims before any peer is
# judged through it (a lab that builds the wrong NAT proves nothing). Per type it checks, with
# the UDP probe:
#   mapping    — one inside port sends to two public hosts; both see the same external port
#                (the inside port itself), or, for symmetric, two different ports;
#   filtering  — after the inside sent to broker:7001, unsolicited datagrams from broker:7003
#                (same address, other port) and from far:7001 (other address) arrive or not;
#   the box    — a datagram to the NAT's own public address never reaches a socket on the box;
#   hairpin    — a datagram from inside to the NAT's own public mapping is not looped back.
# Plus: a carrier-grade NAT in front of a home NAT maps to the CGN's address; N% loss drops
# about N% of datagrams each way.
# Usage: selftest.sh [TYPE...]   (default: every type, then cgn and loss)

# shellcheck source=lab.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lab.sh"

SELFTEST_FAILS=0

probe() { local ns=$1; shift; timeout -k 1 10 ip netns exec "$ns" "$PYTHON" "$NATLAB_DIR/udp_probe.py" "$@"; }
# seen_endpoint "FROM seen EP payload" → EP
seen_endpoint() { awk '$2 == "seen" { print $3; exit }' <<<"$1"; }

# selftest_expect TYPE → "MAPPING SAME_ADDR_OTHER_PORT OTHER_ADDR" the type must show.
selftest_expect() {
  case "$1" in
    none) echo "public yes yes" ;;
    full-cone) echo "independent yes yes" ;;
    address-restricted) echo "independent yes no" ;;
    port-restricted) echo "independent no no" ;;
    symmetric) echo "per-destination no no" ;;
  esac
}

# selftest_nat LABEL TYPE [lab_side options...] → one line: PASS/FAIL and what was observed.
selftest_nat() {
  local label=$1 type=$2; shift 2
  local dir="$LAB_LOGS/selftest-$label" problems=() notes=()
  mkdir -p "$dir"
  lab_up
  lab_side a "$type" "$@"
  local ns=${LAB_HOST_NS[a]} ip=${LAB_HOST_IP[a]} pub=${LAB_PUBLIC_IP[a]}
  local brk far; brk=$(lab_ns_name brk); far=$(lab_ns_name far)
  read -r want_map want_port want_addr <<<"$(selftest_expect "$type")"

  lab_spawn /dev/null "$dir/brk-echo.out" "$dir/brk-echo.err" "$brk" \
    "$PYTHON" "$NATLAB_DIR/udp_probe.py" echo "$LAB_BROKER_IP:7001" "$LAB_BROKER_IP:7003" --for 8
  local brk_echo=$LAB_LAST_PID
  lab_spawn /dev/null "$dir/far-echo.out" "$dir/far-echo.err" "$far" \
    "$PYTHON" "$NATLAB_DIR/udp_probe.py" echo "$LAB_FAR_IP:7001" --for 8
  lab_wait_for "$dir/brk-echo.out" '^ready' 3 "$brk_echo" && lab_wait_for "$dir/far-echo.out" '^ready' 3 ||
    { echo "selftest $label: FAIL (echo servers did not start: $(tail -n 2 "$dir"/*-echo.err))"; SELFTEST_FAILS=$((SELFTEST_FAILS + 1)); return; }

  # Mapping: the same inside endpoint to two destinations.
  local e1 e2
  e1=$(seen_endpoint "$(probe "$ns" send "$ip:5000" "$LAB_BROKER_IP:7001" "echo map" --wait 2)")
  e2=$(seen_endpoint "$(probe "$ns" send "$ip:5000" "$LAB_FAR_IP:7001" "echo map" --wait 2)")
  if [[ -z "$e1" || -z "$e2" ]]; then
    problems+=("no echo came back (saw '${e1:-nothing}' and '${e2:-nothing}')")
  else
    [[ "${e1%:*}" == "$pub" ]] || problems+=("mapped address ${e1%:*}, expected $pub")
    case "$want_map" in
      public|independent)
        if [[ "$e1" == "$e2" && "${e1#*:}" == 5000 ]]; then notes+=("mapping endpoint-independent ($ip:5000 -> $e1 for both)")
        else problems+=("mapping: $ip:5000 seen as $e1 and $e2, expected $pub:5000 for both"); fi ;;
      per-destination)
        if [[ "${e1#*:}" != "${e2#*:}" ]]; then notes+=("mapping per destination ($ip:5000 -> ${e1#*:} / ${e2#*:})")
        else problems+=("mapping: both destinations saw $e1, expected two ports"); fi ;;
    esac
  fi

  # Filtering: open a mapping to broker:7001 only, then knock from elsewhere.
  lab_spawn /dev/null "$dir/inside.out" "$dir/inside.err" "$ns" \
    "$PYTHON" "$NATLAB_DIR/udp_probe.py" listen "$ip:5100" --for 2.5 --first "$LAB_BROKER_IP:7001" "echo filter"
  local inside=$LAB_LAST_PID box="" m
  if [[ "$type" != none ]]; then
    lab_spawn /dev/null "$dir/box.out" "$dir/box.err" "${LAB_NAT_NS[a]}" \
      "$PYTHON" "$NATLAB_DIR/udp_probe.py" listen "0.0.0.0:7777" --for 2
    box=$LAB_LAST_PID
  fi
  if lab_wait_for "$dir/brk-echo.out" ' echo filter$' 2 && { [[ -z "$box" ]] || lab_wait_for "$dir/box.out" '^ready' 2 "$box"; }; then
    m=$(awk '/ echo filter$/ { print $3; exit }' "$dir/brk-echo.out")
    probe "$brk" send "$LAB_BROKER_IP:7003" "$m" "same-addr-other-port"
    probe "$far" send "$LAB_FAR_IP:7001" "$m" "other-addr"
    probe "$far" send "$LAB_FAR_IP:7002" "$pub:7777" "to-the-box"
    [[ "$type" != none ]] && probe "$ns" send "$ip:5200" "$m" "hairpin"
    lab_wait_exit "$inside" 4
    [[ -n "$box" ]] && lab_wait_exit "$box" 4
    local got_port=no got_addr=no
    grep -q ' seen .* echo filter$' "$dir/inside.out" || problems+=("the solicited reply from broker:7001 never arrived")
    grep -q ' same-addr-other-port$' "$dir/inside.out" && got_port=yes
    grep -q ' other-addr$' "$dir/inside.out" && got_addr=yes
    [[ "$got_port" == "$want_port" ]] || problems+=("same address, other port: arrived=$got_port, expected $want_port")
    [[ "$got_addr" == "$want_addr" ]] || problems+=("other address: arrived=$got_addr, expected $want_addr")
    notes+=("filtering: other port $got_port, other address $got_addr")
    if [[ -n "$box" ]]; then
      if grep -q 'to-the-box' "$dir/box.out"; then problems+=("unsolicited datagram reached a socket on the NAT box")
      else notes+=("box drops unsolicited"); fi
      if grep -q 'hairpin' "$dir/inside.out"; then problems+=("hairpin datagram came back inside")
      else notes+=("no hairpin"); fi
    fi
  else
    problems+=("the filtering probe's first datagram never reached the broker host")
  fi
  selftest_report "$label" problems notes
}

# selftest_loss PERCENT → a port-restricted NAT with PERCENT loss drops about that share each way.
selftest_loss() {
  local pct=$1 dir="$LAB_LOGS/selftest-loss" problems=() notes=()
  mkdir -p "$dir"
  lab_up
  lab_side a port-restricted --loss "$pct"
  local brk; brk=$(lab_ns_name brk)
  lab_spawn /dev/null "$dir/echo.out" "$dir/echo.err" "$brk" \
    "$PYTHON" "$NATLAB_DIR/udp_probe.py" echo "$LAB_BROKER_IP:7001" --for 6
  lab_wait_for "$dir/echo.out" '^ready' 3 "$LAB_LAST_PID" || problems+=("echo server did not start")
  local sent=200 got lo hi
  got=$(probe "${LAB_HOST_NS[a]}" burst "${LAB_HOST_IP[a]}:5300" "$LAB_BROKER_IP:7001" "$sent" --wait 3)
  # Both directions cross the NAT: about (1-p)^2 of the round trips survive; allow a wide margin.
  lo=$(( sent * (100 - pct) * (100 - pct) / 10000 - 40 )); hi=$(( sent - 1 ))
  (( pct == 0 )) && hi=$sent
  if [[ "$got" =~ ^[0-9]+$ ]] && (( got >= lo && got <= hi )); then notes+=("$got/$sent round trips survived (expected $lo..$hi)")
  else problems+=("${got:-no} of $sent round trips survived, expected $lo..$hi"); fi
  selftest_report "loss-$pct%" problems notes
}

selftest_report() {
  local label=$1
  local -n p=$2 n=$3
  if [[ ${#p[@]} -eq 0 ]]; then
    printf 'selftest %-28s PASS  %s\n' "$label" "$(join_notes "${n[@]}")"
  else
    printf 'selftest %-28s FAIL  %s\n' "$label" "$(join_notes "${p[@]}")"
    SELFTEST_FAILS=$((SELFTEST_FAILS + 1))
  fi
  lab_down
}

# selftest_all [TYPE...] → returns non-zero when any check failed.
selftest_all() {
  local t
  if [[ $# -eq 0 ]]; then
    for t in "${NATLAB_TYPES[@]}"; do selftest_nat "$t" "$t"; done
    selftest_nat "cgn(port)+home(port)" port-restricted --cgn port-restricted
    selftest_loss "${NATLAB_LOSS:-10}"
  else
    for t in "$@"; do
      t=$(natlab_type_name "$t") || lab_die "unknown NAT type '$t'"
      selftest_nat "$t" "$t"
    done
  fi
  return $(( SELFTEST_FAILS > 0 ))
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -uo pipefail
  lab_preflight; lab_init
  selftest_all "$@"
fi
