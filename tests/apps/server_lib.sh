# Shared by the punch-broker and punch-relay process tests: start a server on 127.0.0.1:0 and
# learn its port from its first line, and the checks both servers' command lines pass. Every
# wait is bounded; the server is killed when the script exits.
# Usage (sourced):
#   start_server PATH/TO/punch-X [options...]   sets server_pid, server_port; stderr on fd 3
#   expect_line REGEX                          the next matching line of the server's (bounded)
#   check_command_line PATH/TO/punch-X OPTION...  --help names each OPTION, --version, a taken port
#   check_bad PATH/TO/punch-X OPTION ARGS...   ARGS exit 2 with one line naming OPTION
#   check_signals PATH/TO/punch-X              SIGTERM and SIGINT stop it with exit 0

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

server_pid=
stop_server() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=
}
trap stop_server EXIT

start_server() {
  local bin=$1 name
  name=$(basename "$bin")
  shift
  exec 3< <(exec "$bin" --listen 127.0.0.1:0 "$@" 2>&1)
  server_pid=$!
  local line
  IFS= read -r -t 10 line <&3 || fail "$name printed nothing within 10 s"
  server_port=$(sed -n "s/.*$name listening on 127\\.0\\.0\\.1:\\([0-9][0-9]*\\) (transport udp.*)\$/\\1/p" <<<"$line")
  [[ -n $server_port ]] || fail "unexpected first line: $line"
}

# Reads server lines (bounded) until one matches the extended regex $1; prints it.
expect_line() {
  local pattern=$1 line
  while IFS= read -r -t 10 line <&3; do
    if [[ $line =~ $pattern ]]; then
      echo "$line"
      return 0
    fi
  done
  fail "no server line matching /$pattern/ within 10 s"
}

check_bad() {
  local bin=$1 option=$2
  shift 2
  local err rc=0
  err=$("$bin" "$@" 2>&1 >/dev/null) || rc=$?
  (( rc == 2 )) || fail "$bin $* exited $rc, expected 2"
  [[ $(wc -l <<<"$err") -eq 1 ]] || fail "$bin $* printed more than one line: $err"
  grep -q -- "$option" <<<"$err" || fail "$bin $*: '$err' does not name $option"
}

check_command_line() {
  local bin=$1 name help option
  name=$(basename "$bin")
  shift
  help=$("$bin" --help) || fail "--help exited $?"
  for option in --listen --transport --transport-plugin --transport-option --rate-limit --rate-burst \
                --stats-interval --quiet --help --version "Exit codes" "$@"; do
    grep -q -- "$option" <<<"$help" || fail "--help does not mention $option"
  done
  "$bin" --version | grep -Eq "^$name [0-9]+\\.[0-9]+\\.[0-9]+\$" || fail "--version"

  # Bad shared options: exit 2, exactly one line on stderr, naming the option.
  check_bad "$bin" --rate-limit --rate-limit -5
  check_bad "$bin" --listen --listen nowhere
  check_bad "$bin" --bogus --bogus
  check_bad "$bin" --transport --transport carrier-pigeon
  check_bad "$bin" --transport-plugin --transport-plugin /nonexistent/plugin.so

  # A taken port: exit 1 with one line naming the address.
  start_server "$bin"
  local err rc=0
  err=$("$bin" --listen "127.0.0.1:$server_port" 2>&1 >/dev/null) || rc=$?
  (( rc == 1 )) || fail "a second $name on a taken port exited $rc, expected 1"
  grep -q "cannot listen on 127.0.0.1:$server_port: .*in use" <<<"$err" || fail "unexpected message: $err"
  stop_server
}

check_signals() {
  local bin=$1 signal rc
  for signal in TERM INT; do
    [[ -n $server_pid ]] || start_server "$bin"
    kill -s "$signal" "$server_pid"
    rc=0
    wait "$server_pid" || rc=$?
    server_pid=
    (( rc == 0 )) || fail "SIG$signal: $(basename "$bin") exited $rc, expected 0"
  done
}
