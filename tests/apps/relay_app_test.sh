#!/usr/bin/env bash
# punch-relay as a process: --help and --version, exit code 2 with one line naming the option
# for bad options, exit code 1 naming the address when the port is taken, an ALLOCATE over
# real UDP answered 401 (by bash's /dev/udp), and a clean exit 0 on SIGTERM and SIGINT.
# Usage: relay_app_test.sh PATH/TO/punch-relay
set -euo pipefail
source "$(dirname "$0")/server_lib.sh"
bin=$1

check_command_line "$bin" --max-allocations --lifetime
check_bad "$bin" --max-allocations --max-allocations 0
check_bad "$bin" --lifetime --lifetime forever

start_server "$bin" --stats-interval 1

# An ALLOCATE without a NONCE, padded to 404 bytes (more than any answer): the relay challenges it (the counters line
# shows it; bash cannot read the UDP answer back on the same socket portably).
request=$(mktemp)
trap 'stop_server; rm -f "$request"' EXIT
{ printf '\x02\xa4\x01\x80\x21\x12\xa4\x42abcdefghijkl\x4a\x0b\x00\x100123456789abcdef\x00\x26\x01\x68'
  head -c 360 /dev/zero; } >"$request"
[[ $(wc -c <"$request") -eq 404 ]] || fail "the hand-built ALLOCATE is not 404 bytes"
# One write, one datagram (cat reads the 404 bytes at once).
cat "$request" >/dev/udp/127.0.0.1/"$server_port"
found=
for _ in 1 2 3 4 5; do
  IFS= read -r -t 3 line <&3 || break
  if [[ $line =~ challenges\ 1 ]]; then found=1; break; fi
done
[[ -n $found ]] || fail "no counters line with 'challenges 1' after an unauthenticated ALLOCATE"

check_signals "$bin"
echo "PASS"
