# shellcheck shell=bash
# What the NAT lab expects to connect: the one place to change when punch learns port
# prediction or relaying. Sourced by lab.sh.
#
# Each line is "CONNECTING-TYPE ACCEPTING-TYPE" (or "scenario NAME") of a pair that cannot
# punch. With a relay (matrix.sh --relay) such a pair must connect through it; without one it
# is expected to fail:
# the peers must then fail cleanly (punch timeout, non-zero exit) and the run counts as xfail;
# if such a run connects it is reported as XPASS (not a failure: time to edit this list).
# Every other pair and scenario must connect.
NATLAB_EXPECTED_FAIL=(
  # A port-restricted NAT admits only the address:port it sent to; a symmetric NAT answers
  # from a new port per destination, so neither side ever hits a port the other admits.
  "port-restricted symmetric"
  "symmetric port-restricted"
  "symmetric symmetric"
)

# natlab_expected A B → prints "ok" (connects directly), "relay" (cannot punch, but a relay
# is running: connects through it) or "fail" (cannot punch, no relay).
natlab_expected() {
  local key="$1 $2" line
  for line in "${NATLAB_EXPECTED_FAIL[@]}"; do
    [[ "$line" == "$key" ]] && { [[ -n "${NATLAB_RELAY:-}" ]] && echo relay || echo fail; return; }
  done
  echo ok
}
