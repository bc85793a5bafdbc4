#!/usr/bin/env bash
# punch-broker as a process: --help and --version, exit code 2 with one line for bad options,
# exit code 1 naming the address when the port is taken, a log line per registration, and a
# clean exit 0 on SIGTERM and SIGINT.
# Usage: broker_app_test.sh PATH/TO/punch-broker PATH/TO/broker_register_client
set -euo pipefail
source "$(dirname "$0")/server_lib.sh"
bin=$1
register_client=$2

check_command_line "$bin" --max-peers --lifetime-max --other-port --threads
check_bad "$bin" --max-peers --max-peers 0
check_bad "$bin" --threads --threads 0

# A signed Register (the NONCE exchange, then the signature) gives a registration line.
start_server "$bin"
"$register_client" 127.0.0.1 "$server_port" alice || fail "the Register was not answered with success"
expect_line '[0-9T:.-]+Z registered alice at 127\.0\.0\.1:[0-9]+ \(lifetime 60 s\)$' >/dev/null

check_signals "$bin"
echo "PASS"
