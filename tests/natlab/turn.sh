#!/usr/bin/env bash
# The NAT lab's TURN scenario (issue 17): two symmetric kernel NATs (nftables, a fully-random
# source port per destination, so no port can be predicted), no punch-relay anywhere, and a
# real coturn (turnserver, started here on the lab's internet with its own config, log and pid
# files) that both peers are given with --turn. The peers must connect through coturn: the
# path is relayed, its remote address on one side is coturn's, coturn logs the allocation,
# and a line crosses each way.
#
#   turn.sh --broker PATH --peer PATH [--turnserver PATH]
#
# Prints "SKIPPED: <reason>" and exits 0 without root, namespaces, nftables or turnserver.
# Every namespace (and with it every process: coturn, broker, peers) goes on exit (lab.sh).
set -u
NATLAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.sh
source "$NATLAB_DIR/lab.sh"

TURN_IP=$LAB_PUB.30
TURN_USER=alice TURN_PASSWORD=wonderland TURN_REALM=punch.lab
BROKER_BIN="" PEER_BIN="" TURNSERVER=$(command -v turnserver || echo /usr/bin/turnserver)
while (($#)); do
  case "$1" in
    --broker) BROKER_BIN=$2; shift 2 ;;
    --peer) PEER_BIN=$2; shift 2 ;;
    --turnserver) TURNSERVER=$2; shift 2 ;;
    *) lab_die "unknown option $1" ;;
  esac
done
[[ -x "$BROKER_BIN" && -x "$PEER_BIN" ]] || lab_die "give --broker and --peer binaries"

lab_preflight
if [[ ! -x "$TURNSERVER" ]]; then echo "SKIPPED: turnserver (coturn) is not installed; ./setup.sh installs it"; exit 0; fi

# The topology: "pub" (a switch, the lab's internet) with the broker host and the TURN host
# and two boxes' WAN sides; behind "nat-a" alice, behind "nat-b" bob. Both boxes symmetric.
lab_describe() {
  lab_describe_pair "$LAB_PUB" symmetric nat-a nat-b
  lab_node trn
  lab_plug pub sw trn eth0 "$TURN_IP/24" "$LAB_PUB.1"
}

# coturn's own config: long-term credentials for one user, UDP only (no TLS, DTLS, TCP), no
# CLI, relay ports in a range of their own, log and pid in this run's scratch directory.
turn_config() {
  cat <<CONF
listening-ip=$TURN_IP
relay-ip=$TURN_IP
listening-port=3478
min-port=49160
max-port=49200
lt-cred-mech
user=$TURN_USER:$TURN_PASSWORD
realm=$TURN_REALM
no-tls
no-dtls
no-tcp
no-cli
no-multicast-peers
log-file=$LAB_LOGS/turnserver.log
simple-log
verbose
pidfile=$LAB_LOGS/turnserver.pid
CONF
}

json_field() { sed -n 's/.*"event":"connected".*"'"$2"'":"\([^"]*\)".*/\1/p' "$1" | head -n 1; }

lab_init
lab_up

turn_config >"$LAB_LOGS/turnserver.conf"
lab_spawn /dev/null "$LAB_LOGS/turnserver.out" "$LAB_LOGS/turnserver.err" "$(lab_ns_name trn)" \
  "$TURNSERVER" -c "$LAB_LOGS/turnserver.conf"
TURN_PID=$LAB_LAST_PID
# Ready once it answers a STUN Binding (from the broker's host, across the lab's internet).
turn_answers() {
  ip netns exec "$(lab_ns_name brk)" "$PYTHON" -c '
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.2)
s.sendto(bytes.fromhex("000100002112a442") + os.urandom(12), (sys.argv[1], 3478))
s.recv(1500)' "$TURN_IP" 2>/dev/null
}
lab_deadline 10
until turn_answers; do
  lab_alive "$TURN_PID" || lab_die "turnserver exited at start-up: $(tail -n 5 "$LAB_LOGS"/turnserver*)"
  lab_waiting || lab_die "turnserver does not answer on $TURN_IP:3478: $(tail -n 5 "$LAB_LOGS"/turnserver*.log)"
done

BRK=$(lab_ns_name brk)
lab_spawn /dev/null "$LAB_LOGS/broker.out" "$LAB_LOGS/broker.err" "$BRK" \
  "$BROKER_BIN" --listen "$LAB_BROKER_IP:3478" --other-port 3480 --transport udp

turn_args=(--turn "turn:$TURN_IP:3478" --turn-user "$TURN_USER" --turn-password "$TURN_PASSWORD"
  --no-port-prediction --no-port-mapping --bind 0.0.0.0:0 --events)

# alice waits for bob; her stdin stays open (a fifo we hold) until the end. The broker needs
# no wait: alice's Register is retransmitted until it answers. Bob starts as soon as she is
# registered (a peer must be registered to be found), not when her TURN allocation is known:
# his connect waits for his own allocation, whose relayed address joins the pair.
lab_open_fifo "$LAB_LOGS/alice.in"
A_IN=$LAB_FD
lab_spawn "$LAB_LOGS/alice.in" "$LAB_LOGS/alice.out" "$LAB_LOGS/alice.err" "$(lab_ns_name a)" \
  "$PEER_BIN" --broker "$LAB_BROKER_IP:3478" --id alice --timeout 25 --key "$LAB_LOGS/alice.key" "${turn_args[@]}"
A_PID=$LAB_LAST_PID
lab_wait_for "$LAB_LOGS/alice.err" '"event":"registered"' 10 "$A_PID" ||
  lab_die "alice did not register: $(tail -n 5 "$LAB_LOGS/alice.err")"

lab_open_fifo "$LAB_LOGS/bob.in"
B_IN=$LAB_FD
lab_spawn "$LAB_LOGS/bob.in" "$LAB_LOGS/bob.out" "$LAB_LOGS/bob.err" "$(lab_ns_name b)" \
  "$PEER_BIN" --broker "$LAB_BROKER_IP:3478" --id bob --connect alice --timeout 20 --key "$LAB_LOGS/bob.key" "${turn_args[@]}"
B_PID=$LAB_LAST_PID
echo "hello alice, through coturn" >&"$B_IN"
echo "hello bob, through coturn" >&"$A_IN"
lab_wait_for "$LAB_LOGS/alice.out" "hello alice, through coturn" 20 "$A_PID" ||
  lab_die "alice did not receive bob's line: bob: $(tail -n 3 "$LAB_LOGS/bob.err"); alice: $(tail -n 3 "$LAB_LOGS/alice.err")"
lab_wait_for "$LAB_LOGS/bob.out" "hello bob, through coturn" 10 "$B_PID" ||
  lab_die "bob did not receive alice's line: bob: $(tail -n 3 "$LAB_LOGS/bob.err"); alice: $(tail -n 3 "$LAB_LOGS/alice.err")"

a_path=$(json_field "$LAB_LOGS/alice.err" path) b_path=$(json_field "$LAB_LOGS/bob.err" path)
a_remote=$(json_field "$LAB_LOGS/alice.err" remote) b_remote=$(json_field "$LAB_LOGS/bob.err" remote)
# End of bob's stdin closes the connection; both exit.
lab_close_fd "$B_IN"
lab_wait_exit "$B_PID" 5 || true
lab_wait_exit "$A_PID" 5 || true
echo "alice: path $a_path, remote $a_remote; bob: path $b_path, remote $b_remote" >&2
[[ "$a_path" == relay && "$b_path" == relay ]] || lab_die "not relayed: alice over '$a_path', bob over '$b_path'"
# One side sends to the other's relayed address, which is coturn's; the other hears it from
# its own allocation. No punch-relay was started, and none was named to the peers.
[[ "$a_remote" == "$TURN_IP:"* || "$b_remote" == "$TURN_IP:"* ]] ||
  lab_die "neither side's remote is coturn's ($TURN_IP): alice $a_remote, bob $b_remote"
# coturn writes its log buffered: stopped first, so that all of it is there.
lab_stop "$TURN_PID"
grep -q "ALLOCATE processed, success" "$LAB_LOGS"/turnserver*.log ||
  lab_die "coturn logged no successful allocation: $(tail -n 5 "$LAB_LOGS"/turnserver*.log)"
grep -Eq "(CHANNEL_BIND|CREATE_PERMISSION) processed, success" "$LAB_LOGS"/turnserver*.log ||
  lab_die "coturn logged no permission or channel for the peer: $(tail -n 5 "$LAB_LOGS"/turnserver*.log)"
echo "turn: symmetric <-> symmetric, no port prediction, no punch-relay: alice over $a_path ($a_remote), bob over $b_path ($b_remote), through coturn at $TURN_IP:3478"
