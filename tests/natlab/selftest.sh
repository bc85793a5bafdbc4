#!/usr/bin/env bash
# The NAT lab's selftest: proves each NAT box behaves as its type claims before any peer is
# judged through it (a lab that builds the wrong NAT proves nothing). udp_probe.py checks, per
# box, from sockets it holds inside the lab's namespaces:
#   mapping    — one inside port sends to two public hosts; both see the same external port
#                (the inside port itself), or, for symmetric, two different ports;
#   filtering  — after the inside sent to broker:7001, unsolicited datagrams from broker:7003
#                (same address, other port) and from far:7001 (other address) arrive or not;
#   the box    — a datagram to the NAT's own public address never reaches a socket on the box;
#   hairpin    — a datagram from inside to its own public mapping is not looped back.
# Every box of side a and side b is checked, and the carrier-grade NAT chain (it must map to
# the CGN's address), and both families of the dual-stack routers (IPv6: a stateful firewall,
# no translation); then N% loss on a box must drop about N% of the datagrams each way.
# Usage: selftest.sh [--loss N]

# shellcheck source=lab.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lab.sh"

# selftest_all LOSS_PERCENT → runs on a lab that is up; returns non-zero when any check failed.
selftest_all() {
  local pct=$1 plan side type role port=5000 rc=0
  plan="broker $(lab_ns_name brk) $LAB_BROKER_IP"$'\n'"far $(lab_ns_name far) $LAB_FAR_IP"$'\n'
  for side in a b; do
    for type in "${NATLAB_TYPES[@]}"; do
      role="$side:$type"
      plan+="check $role $type ${LAB_HOST_NS[$role]} ${LAB_HOST_IP[$role]} ${LAB_BOX_NS[$role]:--}"
      plan+=" ${LAB_PUBLIC_IP[$role]} $port"$'\n'
      port=$((port + 10))
    done
  done
  role="c:cgn"
  plan+="check cgn+home cgn ${LAB_HOST_NS[$role]} ${LAB_HOST_IP[$role]} ${LAB_BOX_NS[$role]}"
  plan+=" ${LAB_PUBLIC_IP[$role]} $port"$'\n'
  if (( LAB_V6 )); then
    # The dual-stack home routers: port-restricted NAT for IPv4, a stateful firewall for IPv6
    # (seen as itself, replies only, nothing to the box).
    plan+="broker $(lab_ns_name brk) $LAB_BROKER_IP6"$'\n'"far $(lab_ns_name far) $LAB_FAR_IP6"$'\n'
    for side in a b; do
      role="$side:ds"; port=$((port + 10))
      plan+="check $side:ds-ipv4 port-restricted ${LAB_HOST_NS[$role]} ${LAB_HOST_IP[$role]} ${LAB_BOX_NS[$role]}"
      plan+=" ${LAB_PUBLIC_IP[$role]} $port"$'\n'
      plan+="check $side:ds-ipv6 firewall6 ${LAB_HOST_NS[$role]} ${LAB_HOST_IP6[$role]} ${LAB_BOX_NS[$role]}"
      plan+=" ${LAB_HOST_IP6[$role]} $((port + 5)) ${LAB_BOX_IP6[$role]}"$'\n'
    done
  fi
  timeout -k 1 60 "$PYTHON" "$NATLAB_DIR/udp_probe.py" nat <<<"$plan" || rc=1

  # Both directions cross the lossy box: about (1-p)^2 of the round trips survive; a wide margin.
  local sent=200 lo hi box=${LAB_BOX_NS[a:port-restricted]}
  lo=$(( sent * (100 - pct) * (100 - pct) / 10000 - 40 )); hi=$(( pct > 0 ? sent - 1 : sent ))
  (( lo < 0 )) && lo=0
  lab_loss "$box" "$pct"
  timeout -k 1 20 "$PYTHON" "$NATLAB_DIR/udp_probe.py" loss "loss-$pct%" "${LAB_HOST_NS[a:port-restricted]}" \
    "${LAB_HOST_IP[a:port-restricted]}" 5900 "$(lab_ns_name brk)" "$LAB_BROKER_IP" "$sent" "$lo" "$hi" || rc=1
  lab_loss "$box" 0
  return $rc
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -uo pipefail
  loss=10
  case "${1:-}" in
    --loss) loss=${2:?--loss needs a percentage} ;;
    "") ;;
    *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
  lab_preflight; lab_init
  started=$EPOCHREALTIME
  lab_up
  echo "natlab: lab up (${#LAB_NS[@]} namespaces) in $(elapsed "$started") s"
  selftest_all "$loss"; rc=$?
  echo "natlab: selftest $([[ $rc == 0 ]] && echo passed || echo FAILED) in $(elapsed "$started") s"
  exit $rc
fi
