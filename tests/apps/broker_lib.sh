# Shared by the punch-broker process tests: start a broker on 127.0.0.1:0 and learn its port
# from its first line, with bounded waits; the broker is killed when the script exits.
# Usage (sourced): start_broker PATH/TO/punch-broker [options...]
#   sets broker_pid, broker_port; the broker's stderr stays readable on fd 3.

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

broker_pid=
stop_broker() {
  if [[ -n $broker_pid ]] && kill -0 "$broker_pid" 2>/dev/null; then
    kill "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
  broker_pid=
}
trap stop_broker EXIT

start_broker() {
  local bin=$1
  shift
  exec 3< <(exec "$bin" --listen 127.0.0.1:0 "$@" 2>&1)
  broker_pid=$!
  local line
  IFS= read -r -t 10 line <&3 || fail "punch-broker printed nothing within 10 s"
  broker_port=$(sed -n 's/.*punch-broker listening on 127\.0\.0\.1:\([0-9][0-9]*\) (transport udp)$/\1/p' <<<"$line")
  [[ -n $broker_port ]] || fail "unexpected first line: $line"
}

# Reads broker lines (bounded) until one matches the extended regex $1; prints it.
expect_line() {
  local pattern=$1 line
  while IFS= read -r -t 10 line <&3; do
    if [[ $line =~ $pattern ]]; then
      echo "$line"
      return 0
    fi
  done
  fail "no broker line matching /$pattern/ within 10 s"
}
