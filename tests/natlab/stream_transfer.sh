#!/usr/bin/env bash
# The NAT lab's stream scenario (issue 15): a 20 MiB random file from alice, behind a symmetric
# NAT, to bob, behind a port-restricted-cone NAT (so the pair can meet directly only by port
# prediction; no relay runs), with 5 % random loss on each NAT box, through `punch-peer
# --stream` at both ends. The copy must be byte-identical (sha256sum) and the transfer must
# end within 60 s of alice's start (both peers exited 0); the elapsed time is printed.
#
#   stream_transfer.sh --broker PATH --peer PATH [--size BYTES] [--loss PERCENT] [--limit SECONDS]
#
# Prints "SKIPPED: <reason>" and exits 0 without root, namespaces or nftables. Every namespace
# and process is removed on exit (lab.sh's cleanup).
set -u
NATLAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.sh
source "$NATLAB_DIR/lab.sh"

BROKER_BIN="" PEER_BIN="" SIZE=$((20 * 1024 * 1024)) LOSS=5 LIMIT=60
while (($#)); do
  case "$1" in
    --broker) BROKER_BIN=$2; shift 2 ;;
    --peer) PEER_BIN=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --loss) LOSS=$2; shift 2 ;;
    --limit) LIMIT=$2; shift 2 ;;
    *) lab_die "unknown option $1" ;;
  esac
done
[[ -x "$BROKER_BIN" && -x "$PEER_BIN" ]] || lab_die "give --broker and --peer binaries"
[[ "$SIZE" =~ ^[0-9]+$ && "$LOSS" =~ ^[0-9]+$ && "$LIMIT" =~ ^[0-9]+$ ]] || lab_die "--size, --loss, --limit take whole numbers"
command -v sha256sum >/dev/null || { echo "SKIPPED: sha256sum (coreutils) is not installed"; exit 0; }

lab_preflight

# The topology: the lab's internet (a switch) with the broker host and two boxes' WAN sides;
# alice behind "nat-sym" (symmetric), bob behind "nat-port" (port-restricted cone).
lab_describe() {
  lab_node pub; lab_switch pub br0
  lab_node brk; lab_plug pub br0 brk eth0 "$LAB_BROKER_IP/24"
  lab_box nat-sym symmetric "$LAB_PUB.14" 10.14.0.1/24 10.14.0.2
  lab_plug pub br0 nat-sym wan "$LAB_PUB.14/24"
  lab_node alice; lab_plug nat-sym lan alice eth0 10.14.0.2/24 10.14.0.1
  lab_box nat-port port-restricted "$LAB_PUB.23" 10.23.0.1/24 10.23.0.2
  lab_plug pub br0 nat-port wan "$LAB_PUB.23/24"
  lab_node bob; lab_plug nat-port lan bob eth0 10.23.0.2/24 10.23.0.1
}

# json_of FILE EVENT → the first EVENT line of FILE.
json_of() { grep -m1 -E "\"event\" *: *\"$2\"" "$1" 2>/dev/null; }
# path_of FILE → the path of FILE's connected event.
path_of() { json_of "$1" connected | sed -nE 's/.*"path" *: *"([^"]*)".*/\1/p'; }
# tails → the last lines of every process's stderr, for a failure's report.
tails() {
  local f
  for f in "$LAB_LOGS"/broker.err "$LAB_LOGS"/bob.err "$LAB_LOGS"/alice.err; do
    [[ -s "$f" ]] && { echo "--- last lines of ${f##*/} ---"; tail -n 6 "$f"; }
  done
}
fail() { echo "natlab_stream: FAIL: $*"; tails; exit 1; }

lab_init
lab_up
# Each process may live a little longer than the limit, so that a slow transfer is reported
# as one (with its time) rather than cut off by the lab's hard cap.
LAB_PROC_LIMIT=$((LIMIT + 30))
lab_loss "$(lab_ns_name nat-sym)" "$LOSS"
lab_loss "$(lab_ns_name nat-port)" "$LOSS"

head -c "$SIZE" /dev/urandom >"$LAB_LOGS/file" || lab_die "cannot write the random file"
lab_spawn /dev/null "$LAB_LOGS/broker.out" "$LAB_LOGS/broker.err" "$(lab_ns_name brk)" \
  "$BROKER_BIN" --listen "$LAB_BROKER_IP:3478" --other-port 3480 --transport udp
lab_wait_for "$LAB_LOGS/broker.err" 'listening on' 10 "$LAB_LAST_PID" || fail "punch-broker did not start"

# bob sends nothing (his stdin is empty: his direction is complete at once) and writes what
# alice's stream carries; alice starts once he is registered (no sleep: his event says so).
common=(--broker "$LAB_BROKER_IP:3478" --bind 0.0.0.0:0 --events --stream --timeout 20)
lab_spawn /dev/null "$LAB_LOGS/copy" "$LAB_LOGS/bob.err" "$(lab_ns_name bob)" \
  "$PEER_BIN" --id bob "${common[@]}" --key "$LAB_LOGS/bob.key"
BOB_PID=$LAB_LAST_PID
lab_wait_for "$LAB_LOGS/bob.err" '"event" *: *"registered"' 15 "$BOB_PID" || fail "bob did not register"

STARTED=$EPOCHREALTIME
lab_spawn "$LAB_LOGS/file" "$LAB_LOGS/alice.out" "$LAB_LOGS/alice.err" "$(lab_ns_name alice)" \
  "$PEER_BIN" --id alice --connect bob "${common[@]}" --key "$LAB_LOGS/alice.key"
ALICE_PID=$LAB_LAST_PID
lab_wait_exit "$ALICE_PID" "$((LIMIT + 30))"; ALICE_RC=$LAB_STATUS
lab_wait_exit "$BOB_PID" 10; BOB_RC=$LAB_STATUS
ELAPSED=$(elapsed "$STARTED")

echo "natlab_stream: $SIZE bytes alice (symmetric) -> bob (port-restricted), $LOSS% loss on each NAT:" \
  "${ELAPSED} s (limit $LIMIT s); paths alice $(path_of "$LAB_LOGS/alice.err") bob $(path_of "$LAB_LOGS/bob.err")"
json_of "$LAB_LOGS/alice.err" stream
json_of "$LAB_LOGS/bob.err" stream
[[ "$ALICE_RC" == 0 ]] || fail "alice exited $ALICE_RC"
[[ "$BOB_RC" == 0 ]] || fail "bob exited $BOB_RC"
want=$(sha256sum <"$LAB_LOGS/file") got=$(sha256sum <"$LAB_LOGS/copy")
[[ "$want" == "$got" ]] || fail "bob's copy differs: $(stat -c %s "$LAB_LOGS/copy") bytes, sha256 ${got%% *} (want ${want%% *})"
awk -v e="$ELAPSED" -v l="$LIMIT" 'BEGIN { exit !(e <= l) }' || fail "took $ELAPSED s, over the $LIMIT s limit"
echo "natlab_stream: ok, byte-identical (sha256 ${want%% *})"
