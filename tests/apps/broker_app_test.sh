#!/usr/bin/env bash
# punch-broker as a process: --help and --version, exit code 2 with one line for bad options,
# exit code 1 naming the address when the port is taken, a log line per registration, and a
# clean exit 0 on SIGTERM and SIGINT.
# Usage: broker_app_test.sh PATH/TO/punch-broker PATH/TO/broker_register_client
set -euo pipefail
source "$(dirname "$0")/broker_lib.sh"
bin=$1
register_client=$2

help=$("$bin" --help) || fail "--help exited $?"
for option in --listen --transport --transport-plugin --transport-option --max-peers \
              --lifetime-max --stats-interval --rate-limit --rate-burst --quiet --help --version \
              "Exit codes"; do
  grep -q -- "$option" <<<"$help" || fail "--help does not mention $option"
done
"$bin" --version | grep -Eq '^punch-broker [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version"

# Bad options: exit 2, exactly one line on stderr, naming the option.
check_bad() {
  local option=$1
  shift
  local err rc=0
  err=$("$bin" "$@" 2>&1 >/dev/null) || rc=$?
  (( rc == 2 )) || fail "punch-broker $* exited $rc, expected 2"
  [[ $(wc -l <<<"$err") -eq 1 ]] || fail "punch-broker $* printed more than one line: $err"
  grep -q -- "$option" <<<"$err" || fail "punch-broker $*: '$err' does not name $option"
}
check_bad --max-peers --max-peers 0
check_bad --rate-limit --rate-limit -5
check_bad --listen --listen nowhere
check_bad --bogus --bogus
check_bad --transport --transport carrier-pigeon
check_bad --transport-plugin --transport-plugin /nonexistent/plugin.so

# A taken port: exit 1 with one line naming the address.
start_broker "$bin"
rc=0
err=$("$bin" --listen "127.0.0.1:$broker_port" 2>&1 >/dev/null) || rc=$?
(( rc == 1 )) || fail "a second broker on a taken port exited $rc, expected 1"
grep -q "cannot listen on 127.0.0.1:$broker_port: .*in use" <<<"$err" || fail "unexpected message: $err"

# A signed Register (the NONCE exchange, then the signature) gives a registration line.
"$register_client" 127.0.0.1 "$broker_port" alice || fail "the Register was not answered with success"
expect_line '[0-9T:.-]+Z registered alice at 127\.0\.0\.1:[0-9]+ \(lifetime 60 s\)$' >/dev/null

# SIGTERM and SIGINT: a clean stop, exit 0.
for signal in TERM INT; do
  [[ -n $broker_pid ]] || start_broker "$bin"
  kill -s "$signal" "$broker_pid"
  rc=0
  wait "$broker_pid" || rc=$?
  broker_pid=
  (( rc == 0 )) || fail "SIG$signal: punch-broker exited $rc, expected 0"
done
echo "PASS"
