# shellcheck shell=bash
# What the NAT lab expects to connect: the one place to change when punch learns a new way
# through. Sourced by lab.sh.
#
# Each line is "CONNECTING-TYPE ACCEPTING-TYPE" (or "scenario NAME").
#
# Pairs that plain punching cannot connect, where port prediction must: a port-restricted NAT
# admits only the address:port it sent to, and a symmetric NAT sends from a new port per
# destination, so the port-restricted side probes the symmetric side's ports while the
# symmetric side opens many mappings toward it (docs/nat-traversal.md).
NATLAB_PREDICTED=(
  "port-restricted symmetric"
  "symmetric port-restricted"
)
# Pairs that cannot connect directly. With a relay (matrix.sh --relay) they must connect
# through it; without one they are expected to fail: the peers must then fail cleanly (punch
# timeout, non-zero exit) and the run counts as xfail; if such a run connects it is reported
# as XPASS (not a failure: time to edit this list).
NATLAB_EXPECTED_FAIL=(
  # Both sides send from a new port per destination: neither knows where to aim.
  "symmetric symmetric"
)
# Scenarios whose peers must connect directly over IPv6 (both sides' remote an IPv6
# address): two stateful IPv6 firewalls, and the dual-stack hosts, which could also use IPv4.
NATLAB_EXPECTED_IPV6=(
  "scenario ipv6"
  "scenario dual-stack"
)
# Every other pair and scenario must connect directly.

# natlab_expected A B → prints "ok" (connects directly), "predicted" (connects directly by
# port prediction: at least one side reports the predicted path), "relay" (no direct path,
# but a relay is running: connects through it), "ipv6" (connects directly over IPv6) or
# "fail" (no direct path, no relay).
natlab_expected() {
  local key="$1 $2" line
  for line in "${NATLAB_EXPECTED_IPV6[@]}"; do
    [[ "$line" == "$key" ]] && { echo ipv6; return; }
  done
  for line in "${NATLAB_PREDICTED[@]}"; do
    [[ "$line" == "$key" ]] && { echo predicted; return; }
  done
  for line in "${NATLAB_EXPECTED_FAIL[@]}"; do
    [[ "$line" == "$key" ]] && { [[ -n "${NATLAB_RELAY:-}" ]] && echo relay || echo fail; return; }
  done
  echo ok
}
