#!/usr/bin/env bash
# punch-relay as a process: --help and --version, exit code 2 with one line naming the option
# for bad options, exit code 1 naming the address when the port is taken, an ALLOCATE over
# real UDP answered 401 (by bash's /dev/udp), and a clean exit 0 on SIGTERM and SIGINT.
# Usage: relay_app_test.sh PATH/TO/punch-relay
set -euo pipefail
bin=$1

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
relay_pid=
stop_relay() {
  if [[ -n $relay_pid ]] && kill -0 "$relay_pid" 2>/dev/null; then
    kill "$relay_pid" 2>/dev/null || true
    wait "$relay_pid" 2>/dev/null || true
  fi
  relay_pid=
}
trap stop_relay EXIT

# Starts the relay on 127.0.0.1:0 and learns its port from its first line (bounded wait).
start_relay() {
  exec 3< <(exec "$bin" --listen 127.0.0.1:0 "$@" 2>&1)
  relay_pid=$!
  local line
  IFS= read -r -t 10 line <&3 || fail "punch-relay printed nothing within 10 s"
  relay_port=$(sed -n 's/.*punch-relay listening on 127\.0\.0\.1:\([0-9][0-9]*\) (transport udp)$/\1/p' <<<"$line")
  [[ -n $relay_port ]] || fail "unexpected first line: $line"
}

help=$("$bin" --help) || fail "--help exited $?"
for option in --listen --transport --transport-plugin --transport-option --max-allocations \
              --lifetime --rate-limit --rate-burst --stats-interval --quiet --help --version "Exit codes"; do
  grep -q -- "$option" <<<"$help" || fail "--help does not mention $option"
done
"$bin" --version | grep -Eq '^punch-relay [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version"

# Bad options: exit 2, exactly one line on stderr, naming the option.
check_bad() {
  local option=$1
  shift
  local err rc=0
  err=$("$bin" "$@" 2>&1 >/dev/null) || rc=$?
  (( rc == 2 )) || fail "punch-relay $* exited $rc, expected 2"
  [[ $(wc -l <<<"$err") -eq 1 ]] || fail "punch-relay $* printed more than one line: $err"
  grep -q -- "$option" <<<"$err" || fail "punch-relay $*: '$err' does not name $option"
}
check_bad --max-allocations --max-allocations 0
check_bad --lifetime --lifetime forever
check_bad --rate-limit --rate-limit -5
check_bad --listen --listen nowhere
check_bad --bogus --bogus
check_bad --transport --transport carrier-pigeon
check_bad --transport-plugin --transport-plugin /nonexistent/plugin.so

# A taken port: exit 1 with one line naming the address.
start_relay --stats-interval 1
rc=0
err=$("$bin" --listen "127.0.0.1:$relay_port" 2>&1 >/dev/null) || rc=$?
(( rc == 1 )) || fail "a second relay on a taken port exited $rc, expected 1"
grep -q "cannot listen on 127.0.0.1:$relay_port: .*in use" <<<"$err" || fail "unexpected message: $err"

# An ALLOCATE without a NONCE, padded to 404 bytes (more than any answer): the relay challenges it (the counters line
# shows it; bash cannot read the UDP answer back on the same socket portably).
request=$(mktemp)
trap 'stop_relay; rm -f "$request"' EXIT
{ printf '\x02\xa4\x01\x80\x21\x12\xa4\x42abcdefghijkl\x4a\x0b\x00\x100123456789abcdef\x00\x26\x01\x68'
  head -c 360 /dev/zero; } >"$request"
[[ $(wc -c <"$request") -eq 404 ]] || fail "the hand-built ALLOCATE is not 404 bytes"
# One write, one datagram (cat reads the 404 bytes at once).
cat "$request" >/dev/udp/127.0.0.1/"$relay_port"
found=
for _ in 1 2 3 4 5; do
  IFS= read -r -t 3 line <&3 || break
  if [[ $line =~ challenges\ 1 ]]; then found=1; break; fi
done
[[ -n $found ]] || fail "no counters line with 'challenges 1' after an unauthenticated ALLOCATE"

# SIGTERM and SIGINT: a clean stop, exit 0.
for signal in TERM INT; do
  [[ -n $relay_pid ]] || start_relay
  kill -s "$signal" "$relay_pid"
  rc=0
  wait "$relay_pid" || rc=$?
  relay_pid=
  (( rc == 0 )) || fail "SIG$signal: punch-relay exited $rc, expected 0"
done
echo "PASS"
