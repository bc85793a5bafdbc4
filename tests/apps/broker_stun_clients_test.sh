#!/usr/bin/env bash
# Standard STUN clients against punch-broker: coturn's turnutils_stunclient (RFC 5389) and the
# stun-client package's `stun` (RFC 3489, no magic cookie) must each learn their own address.
# Usage: broker_stun_clients_test.sh PATH/TO/punch-broker
set -euo pipefail
source "$(dirname "$0")/server_lib.sh"
start_server "$1"

# turnutils_stunclient prints "UDP reflexive addr: ADDR:PORT". It cannot choose its port, so
# we bind it to 127.0.0.2 as well: the broker must reflect the source, not a constant.
if command -v turnutils_stunclient >/dev/null; then
  for local in 127.0.0.1 127.0.0.2; do
    out=$(timeout 10 turnutils_stunclient -L "$local" -p "$server_port" 127.0.0.1 2>&1) ||
      fail "turnutils_stunclient -L $local failed: $out"
    mapped=$(grep -o 'UDP reflexive addr: [0-9.]*:[0-9]*' <<<"$out" | head -n 1 | awk '{print $4}')
    [[ ${mapped%:*} == "$local" ]] || fail "turnutils_stunclient from $local was told '$mapped': $out"
    port=${mapped##*:}
    (( port > 0 && port < 65536 && port != server_port )) || fail "implausible mapped port in '$mapped'"
    echo "turnutils_stunclient from $local: reflexive $mapped"
  done
else
  echo "SKIPPED: turnutils_stunclient not installed"
fi

# `stun HOST:PORT 1 -v -p SRC` runs RFC 3489 test I from source port SRC and prints
# "MappedAddress = ADDR:PORT". A random SRC may be taken: try a few.
if command -v stun >/dev/null; then
  ok=0
  for attempt in 1 2 3; do
    src=$(( 20000 + RANDOM % 20000 ))
    out=$(timeout 10 stun "127.0.0.1:$server_port" 1 -v -p "$src" 2>&1) || true
    if grep -q "MappedAddress = 127.0.0.1:$src\$" <<<"$out"; then
      ok=1
      echo "stun from port $src: MappedAddress = 127.0.0.1:$src"
      break
    fi
  done
  (( ok )) || fail "stun never reported its own address; last output: $out"
else
  echo "SKIPPED: stun (stun-client) not installed"
fi
echo "PASS"
