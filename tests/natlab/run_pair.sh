#!/usr/bin/env bash
# Peer runs in the NAT lab: punch-broker (and, with --relay, punch-relay) on the public switch,
# an accepting peer ("bob-N") and a connecting peer ("alice-N") on two peer hosts, a line each
# way, EOF, both exit 0. Each peer's line is typed into its stdin when it starts, before any
# "connected" (what users do: punch-peer must queue it); --lines-when-connected waits for both
# to print "connected" first, as the lab did before.
# Every wait is bounded; both peers are stopped afterwards (the broker at the end of the run).
#
# Usage: run_pair.sh --broker PATH --peer PATH [--relay PATH] [--timeout S] [--xfail-timeout S]
#                    [--lines-when-connected] TYPE_A TYPE_B [--loss N] [--expect ok|fail]
#        run_pair.sh --broker PATH --peer PATH [--redis PATH] same-nat|cgn|ipv6|dual-stack|rebinding|cross-broker
#   TYPE_A is alice's NAT (she connects), TYPE_B is bob's (he accepts). same-nat: both
#   behind one port-restricted NAT; cgn: alice behind a home NAT behind a carrier-grade NAT,
#   bob behind a port-restricted NAT; ipv6: both behind a stateful IPv6 firewall, over IPv6
#   only; dual-stack: the same hosts with both families (IPv4 behind a port-restricted NAT);
#   rebinding: both behind port-restricted NATs, alice's NAT "reboots" mid-stream;
#   cross-broker (with --redis PATH, redis-server): port-restricted on both sides, alice at one
#   broker and bob at another, the two sharing a registry in Redis.
#   --loss N: N% loss on both port-restricted boxes (only with TYPE_A = TYPE_B = port-restricted).
# Prints one line per run; on failure the last lines of each process's stderr.

# shellcheck source=lab.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lab.sh"

NATLAB_BROKER=${NATLAB_BROKER:-}
NATLAB_PEER=${NATLAB_PEER:-}
# punch-relay: when given, it runs next to the broker and every IPv4 peer may fall back on it.
NATLAB_RELAY=${NATLAB_RELAY:-}
LAB_RELAY_PORT=3479
# Alice's deadline (registration plus connect) when the pair must connect: generous, it costs
# nothing when they do. When the pair is expected to fail it is all the pair costs, so short.
NATLAB_PEER_TIMEOUT=${NATLAB_PEER_TIMEOUT:-8}
NATLAB_XFAIL_TIMEOUT=${NATLAB_XFAIL_TIMEOUT:-3}
# When each peer's lines go into its stdin: "start" (as it is spawned, before it is connected:
# what users do) or "connected" (once both printed "connected").
NATLAB_LINES_AT=${NATLAB_LINES_AT:-start}
# How long a line may take to arrive once both sides are connected; one that has not is lost.
NATLAB_LINE_WAIT=5
LAB_BROKER_PORT=3478
LAB_OTHER_PORT=3480  # the broker's second port: peers learn whether their NAT is easy or hard
# The dual-stack broker listens on [::] (both families, one socket) beside the IPv4 and IPv6
# ones, so on ports of its own; NATLAB_DS_BROKERS is what dual-stack peers are given: the
# broker's two addresses in one --broker, comma-separated (matrix.sh --dual-stack-brokers).
LAB_DS_PORT=3578 LAB_DS_OTHER_PORT=3580
NATLAB_DS_BROKERS=${NATLAB_DS_BROKERS:-"$LAB_BROKER_IP:$LAB_DS_PORT,[$LAB_BROKER_IP6]:$LAB_DS_PORT"}
# The rebinding scenario: alice's NAT "reboots" this long after both are connected; each
# direction must carry a line written after it within NATLAB_REBIND_LIMIT seconds.
NATLAB_REBIND_AFTER=${NATLAB_REBIND_AFTER:-6}
NATLAB_REBIND_LIMIT=${NATLAB_REBIND_LIMIT:-10}
NATLAB_REBIND_PORTS=40000-49999   # where the rebooted NAT maps from then on
NATLAB_GEN_INTERVAL=0.25          # the rebinding scenario's line generators: one line per interval

PAIR_SEQ=0
PAIR_RESULT="" PAIR_PATH="" PAIR_MS="" PAIR_LOST=""
# The scenario the next runs belong to, for the per-pair table (natlab_table in matrix.sh).
PAIR_SCENARIO=plain
BROKER_PID="" BROKER_DIR="" RELAY_PID="" BROKER6_PID="" BROKER_DS_PID=""
# The cross-broker scenario (issue 16): redis-server (NATLAB_REDIS, its path) and two more
# brokers sharing their registry through it, on ports of their own; alice registers at the
# first, bob at the second.
NATLAB_REDIS=${NATLAB_REDIS:-}
LAB_XB1_PORT=3488 LAB_XB2_PORT=3498
XB1_PID="" XB2_PID="" REDIS_PID=""
# Per run: the broker each peer is given instead of the lab's one (cross-broker runs).
declare -A P_BROKER=()
SERVER_PID=""
# What pair_end records besides the defaults (set just before it, cleared by it; a set but
# empty NATLAB_REC_TIME records no time rather than connect()'s).
NATLAB_REC_LABEL="" NATLAB_REC_EXTRA=""
unset NATLAB_REC_TIME

# json_field FILE EVENT FIELD → the FIELD of the first EVENT line in FILE (strings unquoted).
json_field() {
  grep -m1 -E "\"event\" *: *\"$2\"" "$1" 2>/dev/null |
    sed -nE "s/.*\"$3\" *: *(\"([^\"]*)\"|([0-9.]+)).*/\2\3/p"
}
# final_remote FILE → where FILE's peer ended up: its last path_changed remote, else its
# connected one.
final_remote() {
  local r
  r=$(grep -E '"event" *: *"path_changed"' "$1" 2>/dev/null | tail -n 1 | sed -nE 's/.*"remote" *: *"([^"]*)".*/\1/p')
  [[ -n "$r" ]] || r=$(json_field "$1" connected remote)
  echo "$r"
}
# has_event FILE EVENT
has_event() { grep -qs -E "\"event\" *: *\"$2\"" "$1"; }
# last_error FILE → the last line of FILE that is not a JSON event.
last_error() { grep -v '^ *{' "$1" 2>/dev/null | grep -v '^ *$' | tail -n 1; }
# is_ipv6_endpoint EP → true for "[addr]:port" (how punch-peer prints an IPv6 endpoint).
is_ipv6_endpoint() { [[ "$1" == \[*\]:* && "$1" != \[::ffff:* ]]; }

# server_start NAME BINARY LISTEN ARGS... → a server on the broker host for the rest of the run
# (logs NAME.out, NAME.err); sets SERVER_PID once its first line says it listens (after the bind).
server_start() {
  local name=$1 bin=$2 ep=$3; shift 3
  # It serves the whole run, so its cap is the run's, not one peer's.
  local LAB_PROC_LIMIT=$LAB_RUN_LIMIT
  mkdir -p "$BROKER_DIR"
  lab_spawn /dev/null "$BROKER_DIR/$name.out" "$BROKER_DIR/$name.err" "$(lab_ns_name brk)" \
    "$bin" --listen "$ep" --transport udp "$@"
  SERVER_PID=$LAB_LAST_PID
  lab_wait_for "$BROKER_DIR/$name.err" 'listening on' 10 "$SERVER_PID" ||
    lab_die "${bin##*/} did not start listening on $ep: $(tail -n 3 "$BROKER_DIR/$name.err")"
}

# broker_start → punch-broker on the broker host, for every run of this lab (and punch-relay).
broker_start() {
  BROKER_DIR="$LAB_LOGS/broker"
  server_start broker "$NATLAB_BROKER" "$LAB_BROKER_IP:$LAB_BROKER_PORT" --other-port "$LAB_OTHER_PORT"
  BROKER_PID=$SERVER_PID
  [[ -n "$NATLAB_RELAY" ]] || return 0
  server_start relay "$NATLAB_RELAY" "$LAB_BROKER_IP:$LAB_RELAY_PORT"
  RELAY_PID=$SERVER_PID
}

# broker6_start / broker_ds_start → the IPv6 broker, the dual-stack one; started by the first
# run that needs them.
broker6_start() {
  [[ -z "$BROKER6_PID" ]] || return 0
  server_start broker6 "$NATLAB_BROKER" "[$LAB_BROKER_IP6]:$LAB_BROKER_PORT" --other-port "$LAB_OTHER_PORT"
  BROKER6_PID=$SERVER_PID
}
broker_ds_start() {
  [[ -z "$BROKER_DS_PID" ]] || return 0
  server_start broker-ds "$NATLAB_BROKER" "[::]:$LAB_DS_PORT" --other-port "$LAB_DS_OTHER_PORT"
  BROKER_DS_PID=$SERVER_PID
}

# cross_broker_start → redis-server on a unix socket and two punch-brokers with --redis on the
# broker host; started by the first run that needs them.
cross_broker_start() {
  [[ -z "$XB1_PID" ]] || return 0
  local LAB_PROC_LIMIT=$LAB_RUN_LIMIT sock="$BROKER_DIR/redis.sock"
  lab_spawn /dev/null "$BROKER_DIR/redis.out" "$BROKER_DIR/redis.err" "$(lab_ns_name brk)" \
    "$NATLAB_REDIS" --port 0 --unixsocket "$sock" --unixsocketperm 700 --save '' --appendonly no
  REDIS_PID=$LAB_LAST_PID
  lab_wait_for "$BROKER_DIR/redis.out" '[Rr]eady to accept connections' 10 "$REDIS_PID" ||
    lab_die "redis-server did not start: $(tail -n 3 "$BROKER_DIR/redis.out" "$BROKER_DIR/redis.err")"
  server_start broker-b1 "$NATLAB_BROKER" "$LAB_BROKER_IP:$LAB_XB1_PORT" --redis "redis+unix://$sock" --name b1
  XB1_PID=$SERVER_PID
  server_start broker-b2 "$NATLAB_BROKER" "$LAB_BROKER_IP:$LAB_XB2_PORT" --redis "redis+unix://$sock" --name b2
  XB2_PID=$SERVER_PID
}

# --- one run, in steps shared by run_pair and run_rebinding_pair ---------------------------
# A run's state: P_N (its number: ids alice-N/bob-N, ports 20000+N/30000+N), P_DIR (its logs),
# P_NET (v4|v6|ds), P_WHY (what went wrong so far), P_PID[who], P_FD[who] (the stdin fifo this
# shell holds), P_STAMP (1: stdout lines are stamped with their arrival time, see pair_spawn).
declare -A P_PID=() P_FD=() P_AUX=() P_SPAWNED=()
P_N=0 P_DIR="" P_NET=v4 P_WHY="" P_STAMP=0 P_STARTED=""
# What pair_outcome found: both/one side connected, when, paths, remotes, connect()'s time.
P_CONNECTED=0 P_HALF=0 P_BOTH_AT="" P_BOB_PATH="" P_BOB_MS="" P_REMOTE_A="" P_REMOTE_B="" P_CONNECT_MS=""
P_BOB_LEAD=""

# why TEXT → adds TEXT to what went wrong in this run.
why() { P_WHY="${P_WHY:+$P_WHY; }$1"; }

# pair_begin LABEL NET → a fresh run: number, log directory, state.
pair_begin() {
  PAIR_SEQ=$((PAIR_SEQ + 1))
  P_N=$PAIR_SEQ P_DIR="$LAB_LOGS/pair-$PAIR_SEQ" P_NET=$2 P_WHY="" P_STAMP=0 P_STARTED=$EPOCHREALTIME
  P_PID=() P_FD=() P_AUX=() P_SPAWNED=()
  P_CONNECTED=0 P_HALF=0 P_CONNECT_MS="" P_BOB_LEAD=""
  PAIR_RESULT="" PAIR_PATH="" PAIR_MS="" PAIR_LOST=""
  mkdir -p "$P_DIR"; echo "$1" >"$P_DIR/label"
  case "$P_NET" in
    v4) lab_alive "$BROKER_PID" || why "punch-broker is gone ($(tail -n 1 "$BROKER_DIR/broker.err"))" ;;
    v6) broker6_start ;;
    ds) broker_ds_start ;;
  esac
}

# pair_spawn WHO ROLE TIMEOUT [ARGS...] → punch-peer "WHO-N" on ROLE's host with its own key,
# --events, and the run's broker, port and (IPv4) relay; its stdin is a fifo this shell holds
# (P_FD[WHO]). With P_STAMP, its stdout goes through natlab_stamp into WHO.out.
pair_spawn() {
  local who=$1 role=$2 t=$3 port b; shift 3
  port=$(( ($([[ $who == alice ]] && echo 20000 || echo 30000)) + P_N ))
  local net_args=()
  case "$P_NET" in
    v4)
      net_args=(--broker "${P_BROKER[$who]:-$LAB_BROKER_IP:$LAB_BROKER_PORT}" --bind "0.0.0.0:$port")
      [[ -z "$NATLAB_RELAY" ]] || net_args+=(--relay "$LAB_BROKER_IP:$LAB_RELAY_PORT") ;;
    v6) net_args=(--broker "[$LAB_BROKER_IP6]:$LAB_BROKER_PORT" --bind "[::]:$port") ;;
    ds)
      net_args=(--bind "[::]:$port")
      net_args+=(--broker "$NATLAB_DS_BROKERS") ;;
  esac
  lab_open_fifo "$P_DIR/$who.in"; P_FD[$who]=$LAB_FD
  local out="$P_DIR/$who.out"
  if (( P_STAMP )); then
    mkfifo "$P_DIR/$who.pipe" || lab_die "cannot make fifo $P_DIR/$who.pipe"
    lab_bg natlab_stamp "$P_DIR/$who.pipe" "$out"; P_AUX[$who-stamp]=$LAB_LAST_PID
    out="$P_DIR/$who.pipe"
  fi
  lab_now "P_SPAWNED[$who]"
  lab_spawn "$P_DIR/$who.in" "$out" "$P_DIR/$who.err" "${LAB_HOST_NS[$role]}" \
    "$NATLAB_PEER" --id "$who-$P_N" "${net_args[@]}" --timeout "$t" --events \
    --key "$P_DIR/$who-$P_N.key" "$@"
  P_PID[$who]=$LAB_LAST_PID
}

# natlab_stamp FIFO FILE → copies lines from FIFO into FILE, each prefixed with the time it
# arrived (µs since the epoch); ends when the writer (a peer's stdout) closes.
natlab_stamp() {
  local line
  exec <"$1" >"$2"
  while IFS= read -r line; do printf '%s %s\n' "${EPOCHREALTIME/./}" "$line"; done
}

# natlab_generate FIFO WHO COUNT STOPFILE SENTLOG → writes "from-WHO-SEQ-EPOCH_MS" into FIFO
# (a peer's stdin) every NATLAB_GEN_INTERVAL seconds, at most COUNT lines, until STOPFILE
# exists; logs "SEQ µs" per line in SENTLOG. Opens FIFO itself, so that its end never holds
# the peer's stdin open once it has stopped.
natlab_generate() {
  local fifo=$1 who=$2 count=$3 stop=$4 sent=$5 i us fd
  exec {fd}>"$fifo"
  for (( i = 1; i <= count; i++ )); do
    [[ -e "$stop" ]] && break
    us=${EPOCHREALTIME/./}
    printf 'from-%s-%d-%d\n' "$who" "$i" "$(( us / 1000 ))" >&"$fd"
    printf '%d %s\n' "$i" "$us" >>"$sent"
    sleep "$NATLAB_GEN_INTERVAL" {fd}>&-
  done
}

# pair_type WHO COUNT → COUNT lines into WHO's stdin at once ("from-WHO-N-I").
pair_type() {
  local i
  for (( i = 1; i <= $2; i++ )); do printf 'from-%s-%d-%d\n' "$1" "$P_N" "$i" >&"${P_FD[$1]}"; done
}

# pair_wait_connected T → waits until both peers report connected, or alice gives up, within her
# deadline T plus slack; once one side has, the other gets 5 s more. Sets P_BOTH_AT (µs, when
# both were seen connected).
pair_wait_connected() {
  local one=0 a_ok b_ok
  P_BOTH_AT=""
  lab_deadline $(( $1 + 5 ))
  while lab_alive "${P_PID[alice]}" && lab_alive "${P_PID[bob]}"; do
    has_event "$P_DIR/alice.err" connected && a_ok=1 || a_ok=0
    has_event "$P_DIR/bob.err" connected && b_ok=1 || b_ok=0
    (( a_ok && b_ok )) && { lab_now P_BOTH_AT; break; }
    if (( (a_ok || b_ok) && !one )); then one=1; lab_deadline 5; fi
    lab_waiting || break
  done
}

# pair_outcome → P_CONNECTED (both sides reported connected), P_HALF (one did), paths and times.
pair_outcome() {
  P_CONNECTED=0 P_HALF=0
  local a_ok=0 b_ok=0
  if [[ -n "${P_PID[alice]:-}" ]]; then
    has_event "$P_DIR/alice.err" connected && a_ok=1
    has_event "$P_DIR/bob.err" connected && b_ok=1
  fi
  (( a_ok && b_ok )) && P_CONNECTED=1
  (( a_ok != b_ok )) && P_HALF=1
  if (( P_CONNECTED )); then
    PAIR_PATH=$(json_field "$P_DIR/alice.err" connected path); PAIR_MS=$(json_field "$P_DIR/alice.err" connected ms)
    P_BOB_PATH=$(json_field "$P_DIR/bob.err" connected path); P_BOB_MS=$(json_field "$P_DIR/bob.err" connected ms)
    P_REMOTE_A=$(json_field "$P_DIR/alice.err" connected remote); P_REMOTE_B=$(json_field "$P_DIR/bob.err" connected remote)
    # connect()'s own time: punch-peer calls connect() right after it prints "registered".
    local reg; reg=$(json_field "$P_DIR/alice.err" registered ms)
    P_CONNECT_MS=$([[ -n "$reg" && -n "$PAIR_MS" ]] && echo $(( PAIR_MS - reg )))
    # How long before alice bob was connected (negative: after her), on this shell's clock:
    # each "ms" counts from its process's start-up, a few ms after we spawned it. While bob is
    # connected and alice is not, what bob sends at once reaches a peer still punching.
    [[ -z "$PAIR_MS" || -z "$P_BOB_MS" ]] ||
      P_BOB_LEAD=$(( (P_SPAWNED[alice] / 1000 + PAIR_MS) - (P_SPAWNED[bob] / 1000 + P_BOB_MS) ))
  fi
}

# pair_half → explains a run in which one side reported connected and the other did not.
pair_half() {
  # Half a connection is never right, whatever was expected.
  local who=alice other=bob err
  has_event "$P_DIR/bob.err" connected && { who=bob; other=alice; }
  lab_wait_exit "${P_PID[$other]}" 1
  err=$(last_error "$P_DIR/$other.err")
  why "$who reported connected ($(json_field "$P_DIR/$who.err" connected path) path), $other never did (${err:-$other still waiting})"
}

# pair_close → EOF on alice's stdin closes the connection; both must exit 0 (bob by himself).
pair_close() {
  lab_close_fd "${P_FD[alice]}"; P_FD[alice]=""
  lab_wait_exit "${P_PID[alice]}" 5; local alice_rc=$LAB_STATUS
  lab_wait_exit "${P_PID[bob]}" 5; local bob_rc=$LAB_STATUS
  [[ "$alice_rc" != running ]] || why "alice did not exit at the end of her stdin"
  [[ "$alice_rc" == 0 || "$alice_rc" == running ]] || why "alice exited $alice_rc ($(last_error "$P_DIR/alice.err"))"
  [[ "$bob_rc" != running ]] || why "bob did not exit after alice closed the connection"
  [[ "$bob_rc" == 0 || "$bob_rc" == running ]] || why "bob exited $bob_rc ($(last_error "$P_DIR/bob.err"))"
}

# pair_end EXPECT NOTES... → stops what still runs, sets PAIR_RESULT, prints the run's line and
# records it for the table (extra fields: NATLAB_REC_TIME, NATLAB_REC_EXTRA).
pair_end() {
  local expect=$1 who; shift
  local notes=("$@")
  for who in "${!P_AUX[@]}"; do lab_stop "${P_AUX[$who]}"; done
  for who in alice bob; do
    [[ -z "${P_PID[$who]:-}" ]] || lab_stop "${P_PID[$who]}"
    [[ -z "${P_FD[$who]:-}" ]] || lab_close_fd "${P_FD[$who]}"
  done
  P_PID=() P_FD=() P_AUX=()
  if (( P_CONNECTED )) && [[ -z "$P_WHY" ]]; then
    if [[ "$expect" != fail ]]; then PAIR_RESULT=ok; else PAIR_RESULT=XPASS; fi
  elif (( ! P_CONNECTED )) && [[ -z "$P_WHY" && "$expect" == fail ]]; then
    PAIR_RESULT=xfail
  else
    PAIR_RESULT=FAIL
    [[ -n "$P_WHY" ]] || why "expected to connect"
  fi
  local label; label=$(<"$P_DIR/label")
  printf '%-44s %-5s %s  [%s s]\n' "$label" "$PAIR_RESULT" \
    "$(join_notes ${P_WHY:+"$P_WHY"} "${notes[@]}")" "$(elapsed "$P_STARTED")"
  if [[ "$PAIR_RESULT" == FAIL ]]; then
    local f broker_log=broker
    case "$P_NET" in v6) broker_log=broker6 ;; ds) broker_log=broker-ds ;; esac
    for f in "$BROKER_DIR/$broker_log.err" "$P_DIR/bob.err" "$P_DIR/alice.err"; do
      [[ -s "$f" ]] || continue
      echo "    --- last lines of $f ---"
      tail -n 6 "$f" | sed 's/^/    /'
    done
  fi
  natlab_record "${NATLAB_REC_LABEL:-$label}" "${NATLAB_REC_TIME-$P_CONNECT_MS}" \
    "${NATLAB_REC_EXTRA:-}${P_BOB_LEAD:+ bob_lead=$P_BOB_LEAD}"
  NATLAB_REC_EXTRA="" NATLAB_REC_LABEL=""
  unset NATLAB_REC_TIME
}

# natlab_record PAIR TIME_MS EXTRA → one line of $LAB_LOGS/results.tsv for the table:
# scenario, pair, result, alice's path, bob's path, time (connect() or recovery, ms), which
# first line was lost, extra notes.
natlab_record() {
  local b_path=""; (( P_CONNECTED )) && b_path=$P_BOB_PATH
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$PAIR_SCENARIO" "$1" "$PAIR_RESULT" \
    "$( (( P_CONNECTED )) && echo "$PAIR_PATH")" "$b_path" "$2" "$PAIR_LOST" "$3" >>"$LAB_LOGS/results.tsv"
}

# run_pair EXPECT LABEL ALICE_ROLE BOB_ROLE [LINES [NET]]
#   Roles are lab hosts ("a:symmetric", "b:none", "a2:port-restricted", "c:cgn", "a:ds"); EXPECT
#   is ok (connect on a direct path), predicted (connect directly by port prediction: either
#   side's path is "predicted"), relay (connect through the relay), ipv6 (connect directly,
#   both remotes IPv6) or fail; LINES lines go each way (one must arrive within
#   NATLAB_LINE_WAIT s of both being connected); NET is v4 (default), v6 or ds. Sets
#   PAIR_RESULT (ok|FAIL|xfail|XPASS), PAIR_PATH, PAIR_MS, PAIR_LOST ("alice->bob",
#   "bob->alice", both, or empty).
run_pair() {
  local expect=$1 label=$2 ra=$3 rb=$4 lines=${5:-1} net=${6:-v4}
  local t=$NATLAB_PEER_TIMEOUT notes=()
  [[ "$expect" == fail ]] && t=$NATLAB_XFAIL_TIMEOUT
  pair_begin "$label" "$net"

  if [[ -z "$P_WHY" ]]; then
    pair_spawn bob "$rb" $((t + 10))
    [[ "$NATLAB_LINES_AT" != start ]] || pair_type bob "$lines"
    lab_wait_for "$P_DIR/bob.err" '"event" *: *"registered"' 10 "${P_PID[bob]}" ||
      why "bob did not register with the broker ($(last_error "$P_DIR/bob.err"))"
  fi
  if [[ -z "$P_WHY" ]]; then
    pair_spawn alice "$ra" "$t" --connect "bob-$P_N"
    [[ "$NATLAB_LINES_AT" != start ]] || pair_type alice "$lines"
    pair_wait_connected "$t"
  fi
  pair_outcome

  if (( P_CONNECTED )); then
    [[ "$NATLAB_LINES_AT" == start ]] || { pair_type alice "$lines"; pair_type bob "$lines"; }
    # Both lines may take NATLAB_LINE_WAIT s from now; alice's stdin stays open until both
    # arrived (its EOF closes the connection) or the wait is over.
    local at_bob=0 at_alice=0
    lab_deadline "$NATLAB_LINE_WAIT"
    while true; do
      grep -Eqs "^from-alice-$P_N-[0-9]+\$" "$P_DIR/bob.out" && at_bob=1
      grep -Eqs "^from-bob-$P_N-[0-9]+\$" "$P_DIR/alice.out" && at_alice=1
      (( at_bob && at_alice )) && break
      lab_alive "${P_PID[alice]}" || lab_alive "${P_PID[bob]}" || break
      lab_waiting || break
    done
    grep -Eqs "^from-alice-$P_N-[0-9]+\$" "$P_DIR/bob.out" && at_bob=1
    grep -Eqs "^from-bob-$P_N-[0-9]+\$" "$P_DIR/alice.out" && at_alice=1
    (( at_bob )) || { why "bob never printed alice's line"; PAIR_LOST="alice->bob"; }
    (( at_alice )) || { why "alice never printed bob's line"; PAIR_LOST="${PAIR_LOST:+both}"; PAIR_LOST=${PAIR_LOST:-bob->alice}; }
    pair_close
    notes=("path $PAIR_PATH, ${PAIR_MS} ms (bob: $P_BOB_PATH, $P_BOB_MS ms)")
    # Direct wherever punching works; the relay only where it cannot.
    if [[ "$expect" == relay && "$PAIR_PATH" != relay ]]; then
      why "expected the relay path, got $PAIR_PATH"
    elif [[ ("$expect" == ok || "$expect" == ipv6) && "$PAIR_PATH" == relay ]]; then
      why "went through the relay where a direct path should open"
    elif [[ "$expect" == predicted && "$PAIR_PATH" != predicted && "$P_BOB_PATH" != predicted ]]; then
      why "expected port prediction's path, got $PAIR_PATH (bob: $P_BOB_PATH)"
    fi
    if [[ "$expect" == ipv6 ]]; then
      # Where each side ended up: a side may connect over IPv4 a moment before the IPv6 pair
      # answers and move there (path_changed), which is what the preference promises.
      P_REMOTE_A=$(final_remote "$P_DIR/alice.err"); P_REMOTE_B=$(final_remote "$P_DIR/bob.err")
      notes+=("remote $P_REMOTE_A (bob: $P_REMOTE_B)")
      if ! is_ipv6_endpoint "$P_REMOTE_A" || ! is_ipv6_endpoint "$P_REMOTE_B"; then
        why "expected IPv6 remotes, got $P_REMOTE_A (bob: $P_REMOTE_B)"
      fi
      # Dual-stack: an IPv6 path alone would also come from peers that registered over IPv6
      # only; the broker must have seen each of them from both families (its log names the
      # id and the address in each "registered" line).
      local who role regs
      [[ "$P_NET" != ds ]] || for who in alice bob; do
        role=$([[ $who == alice ]] && echo "$ra" || echo "$rb")
        regs=$(grep -E "registered .*$who-$P_N([^0-9]|\$)" "$BROKER_DIR/broker-ds.err")
        grep -qF "${LAB_PUBLIC_IP[$role]}" <<<"$regs" && grep -qF "[${LAB_HOST_IP6[$role]}]" <<<"$regs" ||
          why "the broker did not see $who register over both families (as ${LAB_PUBLIC_IP[$role]} and [${LAB_HOST_IP6[$role]}])"
      done
    fi
  elif (( P_HALF )); then
    pair_half
  elif [[ -z "$P_WHY" ]]; then
    # Neither connected: a clean failure is alice exiting 1 with the punch-timeout error after
    # the broker introduced both sides (bob's "introduced" proves it); anything else is a bug.
    lab_wait_exit "${P_PID[alice]}" 5; local alice_rc=$LAB_STATUS err
    err=$(last_error "$P_DIR/alice.err")
    if [[ "$alice_rc" == running ]]; then why "not connected, and alice still running 5 s after her ${t} s deadline"
    elif [[ "$alice_rc" == 0 ]]; then why "not connected, yet alice exited 0"
    elif ! has_event "$P_DIR/bob.err" introduced; then
      why "alice exited $alice_rc and bob was never introduced, so no punch was tried: ${err:-<no message>}"
    elif ! grep -qE 'hole punching .*timed out' <<<"$err"; then
      why "not connected; alice exited $alice_rc without the punch-timeout error: ${err:-<no message>}"
    else notes+=("alice exited $alice_rc: ${err#punch-peer: }")
    fi
  fi
  pair_end "$expect" "${notes[@]}"
}

# run_loss_pair PERCENT → port-restricted on both sides with PERCENT% loss on both boxes.
run_loss_pair() {
  local a=${LAB_BOX_NS[a:port-restricted]} b=${LAB_BOX_NS[b:port-restricted]}
  lab_loss "$a" "$1"; lab_loss "$b" "$1"
  # Under loss send several lines each way; one must arrive.
  NATLAB_REC_LABEL="port-restricted->port-restricted" \
    run_pair "$(natlab_expected scenario loss)" "loss $1% (port-restricted, both boxes)" \
    a:port-restricted b:port-restricted 5
  lab_loss "$a" 0; lab_loss "$b" 0
}

run_same_nat_pair() {
  NATLAB_REC_LABEL="port-restricted->port-restricted (one NAT)" \
    run_pair "$(natlab_expected scenario same-nat)" "same-nat (both behind one port-restricted)" \
    a:port-restricted a2:port-restricted
}

# run_cross_broker_pair → port-restricted on both sides, alice registered at one broker and bob
# at another, the two sharing a registry in Redis: only bob's broker can reach bob through his
# NAT, so the connection proves that alice's broker passed the introduction on to it.
run_cross_broker_pair() {
  local label="cross-broker (port-r. at b1 -> port-r. at b2, one Redis)"
  if [[ -z "$NATLAB_REDIS" ]]; then pair_skip "$label" "port-restricted->port-restricted" "no redis-server"; return 0; fi
  cross_broker_start
  P_BROKER=([alice]="$LAB_BROKER_IP:$LAB_XB1_PORT" [bob]="$LAB_BROKER_IP:$LAB_XB2_PORT")
  NATLAB_REC_LABEL="port-restricted->port-restricted (two brokers)" \
    run_pair "$(natlab_expected port-restricted port-restricted)" "$label" a:port-restricted b:port-restricted
  P_BROKER=()
}

run_cgn_pair() {
  NATLAB_REC_LABEL="cgn+port-restricted->port-restricted" \
    run_pair "$(natlab_expected scenario cgn)" "cgn (alice: port-r. behind CGN port-r.)" \
    c:cgn b:port-restricted
}

# pair_skip LABEL PAIR WHY → a run that cannot happen here: printed and recorded as "skip".
pair_skip() {
  printf '%-44s %-5s %s\n' "$1" skip "$3"
  PAIR_RESULT=skip P_CONNECTED=0 PAIR_LOST=""
  natlab_record "$2" "" ""
}

# natlab_no_v6 LABEL PAIR → true (after a skip line) when this kernel has no IPv6.
natlab_no_v6() {
  (( LAB_V6 )) && return 1
  pair_skip "$1" "$2" "this kernel has no IPv6 (/proc/sys/net/ipv6 is missing)"
}

# run_ipv6_pair → both behind a stateful IPv6 firewall (no NAT), the broker on an IPv6
# address, the peers bound to [::]: a direct IPv6 path.
run_ipv6_pair() {
  local label="ipv6 (both behind stateful firewalls)"
  natlab_no_v6 "$label" "firewall6->firewall6" && return 0
  NATLAB_REC_LABEL="firewall6->firewall6" run_pair "$(natlab_expected scenario ipv6)" "$label" a:ds b:ds 1 v6
}

# run_dual_stack_pair → the same hosts with both families: IPv4 behind port-restricted NATs,
# IPv6 behind the firewalls; a broker on [::] (both families); the path must be IPv6.
run_dual_stack_pair() {
  local label="dual-stack (v4 port-r. NAT + v6 firewall)"
  natlab_no_v6 "$label" "ds->ds" && return 0
  NATLAB_REC_LABEL="ds->ds" run_pair "$(natlab_expected scenario dual-stack)" "$label" a:ds b:ds 1 ds
}

# rebind_first FILE AFTER_MS → "ARRIVAL_US SEQ" of the first stamped line in FILE (WHO.out)
# that its sender wrote after AFTER_MS (its own stamp, in the line), or nothing.
rebind_first() {
  awk -v after="$2" '{ n = split($2, f, "-") } n == 4 && f[4] + 0 > after + 0 { print $1, f[3]; exit }' "$1" 2>/dev/null
}

# run_rebinding_pair → alice and bob behind port-restricted NATs, each sending a numbered,
# timestamped line every NATLAB_GEN_INTERVAL s from the start. NATLAB_REBIND_AFTER s after
# both are connected alice's NAT "reboots": its source NAT moves to NATLAB_REBIND_PORTS and
# its conntrack table is flushed, so her next datagrams leave from a new external port (a
# router after a reboot, a phone changing networks) and bob's NAT drops them until bob sends
# to it. Per direction: the time from the move to the first line written after it that
# arrives (recovery). Passes when both recover within NATLAB_REBIND_LIMIT s.
run_rebinding_pair() {
  local label="rebinding (alice's port-r. NAT reboots)" ra=a:port-restricted rb=b:port-restricted
  local t=$NATLAB_PEER_TIMEOUT notes=() box=${LAB_BOX_NS[a:port-restricted]} wan=${LAB_PUBLIC_IP[a:port-restricted]}
  if ! command -v conntrack >/dev/null; then
    pair_skip "$label" "port-restricted->port-restricted" \
      "'conntrack' (conntrack-tools) is not installed: cannot flush the NAT's table"
    return 0
  fi
  pair_begin "$label" v4
  P_STAMP=1
  # Enough lines for the whole run, whatever happens: connect, the wait, the recovery window.
  local count; count=$(awk -v s="$(( t + NATLAB_REBIND_AFTER + NATLAB_REBIND_LIMIT + 10 ))" \
    -v i="$NATLAB_GEN_INTERVAL" 'BEGIN { printf "%d", s / i }')
  local who
  if [[ -z "$P_WHY" ]]; then
    pair_spawn bob "$rb" $((t + 10))
    lab_bg natlab_generate "$P_DIR/bob.in" bob "$count" "$P_DIR/stop" "$P_DIR/bob.sent"; P_AUX[bob-gen]=$LAB_LAST_PID
    lab_wait_for "$P_DIR/bob.err" '"event" *: *"registered"' 10 "${P_PID[bob]}" ||
      why "bob did not register with the broker ($(last_error "$P_DIR/bob.err"))"
  fi
  if [[ -z "$P_WHY" ]]; then
    pair_spawn alice "$ra" "$t" --connect "bob-$P_N"
    lab_bg natlab_generate "$P_DIR/alice.in" alice "$count" "$P_DIR/stop" "$P_DIR/alice.sent"; P_AUX[alice-gen]=$LAB_LAST_PID
    pair_wait_connected "$t"
  fi
  pair_outcome

  local moved="" rec_ab="" rec_ba="" first_ab="" first_ba="" sent_ab="" sent_ba=""
  if (( P_CONNECTED )); then
    # Lines must flow both ways before the move, or the move proves nothing.
    lab_wait_for "$P_DIR/bob.out" ' from-alice-' "$NATLAB_LINE_WAIT" "${P_PID[bob]}" ||
      { why "no line from alice reached bob before the move"; PAIR_LOST="alice->bob"; }
    lab_wait_for "$P_DIR/alice.out" ' from-bob-' "$NATLAB_LINE_WAIT" "${P_PID[alice]}" ||
      { why "no line from bob reached alice before the move"; PAIR_LOST="${PAIR_LOST:+both}"; PAIR_LOST=${PAIR_LOST:-bob->alice}; }
  fi
  if (( P_CONNECTED )) && [[ -z "$P_WHY" ]]; then
    # The scenario's clock, not a synchronisation: the move comes NATLAB_REBIND_AFTER s after
    # both were connected, while both keep sending.
    local now wait_us; lab_now now
    wait_us=$(( P_BOTH_AT + NATLAB_REBIND_AFTER * 1000000 - now ))
    (( wait_us > 0 )) && sleep "$(awk -v u="$wait_us" 'BEGIN { printf "%.3f", u / 1e6 }')"
    local t0; lab_now t0
    # New mappings from a new port range first, then forget the old ones: a datagram between
    # the two steps cannot make a new entry with the old port.
    lab_snat "$box" "$wan" "$NATLAB_REBIND_PORTS"
    lab_conntrack_flush "$box"
    lab_now moved
    local moved_ms=$(( moved / 1000 )) ab="" ba=""
    lab_deadline "$NATLAB_REBIND_LIMIT"
    while true; do
      [[ -n "$ab" ]] || ab=$(rebind_first "$P_DIR/bob.out" "$moved_ms")
      [[ -n "$ba" ]] || ba=$(rebind_first "$P_DIR/alice.out" "$moved_ms")
      [[ -n "$ab" && -n "$ba" ]] && break
      { lab_alive "${P_PID[alice]}" && lab_alive "${P_PID[bob]}"; } || break
      lab_waiting || break
    done
    [[ -n "$ab" ]] || ab=$(rebind_first "$P_DIR/bob.out" "$moved_ms")
    [[ -n "$ba" ]] || ba=$(rebind_first "$P_DIR/alice.out" "$moved_ms")
    # The first line each side wrote after the move: recovery from the first datagram sent.
    sent_ab=$(awk -v m="$moved" '$2 > m { print $2; exit }' "$P_DIR/alice.sent")
    sent_ba=$(awk -v m="$moved" '$2 > m { print $2; exit }' "$P_DIR/bob.sent")
    local limit_ms=$(( NATLAB_REBIND_LIMIT * 1000 ))
    if [[ -n "$ab" ]]; then
      rec_ab=$(( (${ab%% *} - moved) / 1000 ))
      [[ -z "$sent_ab" ]] || first_ab=$(( (${ab%% *} - sent_ab) / 1000 ))
      (( rec_ab <= limit_ms )) || why "alice->bob resumed only after $rec_ab ms"
    else why "nothing alice wrote after the move reached bob within ${NATLAB_REBIND_LIMIT} s"
    fi
    if [[ -n "$ba" ]]; then
      rec_ba=$(( (${ba%% *} - moved) / 1000 ))
      [[ -z "$sent_ba" ]] || first_ba=$(( (${ba%% *} - sent_ba) / 1000 ))
      (( rec_ba <= limit_ms )) || why "bob->alice resumed only after $rec_ba ms"
    else why "nothing bob wrote after the move reached alice within ${NATLAB_REBIND_LIMIT} s"
    fi
    notes+=("moved $(( (moved - P_BOTH_AT) / 1000 )) ms after connected (took $(( (moved - t0) / 1000 )) ms)")
    notes+=("recovery alice->bob ${rec_ab:-none} ms, bob->alice ${rec_ba:-none} ms")
    [[ -z "$first_ab$first_ba" ]] || notes+=("from the first line sent after the move: ${first_ab:-none} / ${first_ba:-none} ms")
    # How many lines each side wrote from the move until its first one got through.
    local lost_ab lost_ba
    lost_ab=$(awk -v m="$moved" -v s="${ab#* }" '$2 > m && (s == "" || $1 < s) { n++ } END { print n + 0 }' "$P_DIR/alice.sent")
    lost_ba=$(awk -v m="$moved" -v s="${ba#* }" '$2 > m && (s == "" || $1 < s) { n++ } END { print n + 0 }' "$P_DIR/bob.sent")
    notes+=("lines lost after the move: $lost_ab / $lost_ba")
    if has_event "$P_DIR/alice.err" path_changed || has_event "$P_DIR/bob.err" path_changed; then
      notes+=("path_changed: alice $(json_field "$P_DIR/alice.err" path_changed path) (bob: $(json_field "$P_DIR/bob.err" path_changed path))")
    fi
  fi
  # Stop both generators (each checks the stop file once per interval), then alice's EOF.
  : >"$P_DIR/stop"
  for who in alice bob; do
    [[ -z "${P_AUX[$who-gen]:-}" ]] || { lab_wait_exit "${P_AUX[$who-gen]}" 2 || lab_stop "${P_AUX[$who-gen]}"; }
  done
  if (( P_CONNECTED )); then
    if [[ -n "$rec_ab" && -n "$rec_ba" ]]; then pair_close
    else lab_stop "${P_PID[alice]}"; lab_stop "${P_PID[bob]}"   # nothing would reach bob: no clean close
    fi
    notes=("path $PAIR_PATH, ${PAIR_MS} ms (bob: $P_BOB_PATH, $P_BOB_MS ms)" "${notes[@]}")
  elif (( P_HALF )); then
    pair_half
  fi
  [[ -z "$moved" ]] || lab_snat "$box" "$wan"   # the box as it was, for the runs after this one
  NATLAB_REC_LABEL="port-restricted->port-restricted"
  NATLAB_REC_TIME=$([[ -n "$rec_ab" && -n "$rec_ba" ]] && echo $(( rec_ab > rec_ba ? rec_ab : rec_ba )))
  NATLAB_REC_EXTRA="rec_ab=${rec_ab} rec_ba=${rec_ba} first_ab=${first_ab} first_ba=${first_ba}"
  pair_end ok "${notes[@]}"
}

# natlab_need_apps → fails when the broker or peer binary is missing.
natlab_need_apps() {
  [[ -n "$NATLAB_BROKER" && -x "$NATLAB_BROKER" ]] || lab_die "no punch-broker binary (give --broker PATH; got '${NATLAB_BROKER}')"
  [[ -n "$NATLAB_PEER" && -x "$NATLAB_PEER" ]] || lab_die "no punch-peer binary (give --peer PATH; got '${NATLAB_PEER}')"
  NATLAB_BROKER=$(readlink -f "$NATLAB_BROKER"); NATLAB_PEER=$(readlink -f "$NATLAB_PEER")
  if [[ -n "$NATLAB_RELAY" ]]; then
    [[ -x "$NATLAB_RELAY" ]] || lab_die "no punch-relay binary at '$NATLAB_RELAY'"
    NATLAB_RELAY=$(readlink -f "$NATLAB_RELAY")
  fi
}

# natlab_parse_common ARGS... → consumes --broker/--peer/--relay/--timeout/--xfail-timeout/
# --lines-when-connected; the rest lands in NATLAB_ARGS.
natlab_parse_common() {
  NATLAB_ARGS=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --broker) NATLAB_BROKER=${2:?--broker needs a path}; shift ;;
      --peer) NATLAB_PEER=${2:?--peer needs a path}; shift ;;
      --timeout) NATLAB_PEER_TIMEOUT=${2:?--timeout needs seconds}; shift ;;
      --xfail-timeout) NATLAB_XFAIL_TIMEOUT=${2:?--xfail-timeout needs seconds}; shift ;;
      --relay) NATLAB_RELAY=${2:?--relay needs a path}; shift ;;
      --redis) NATLAB_REDIS=${2:?--redis needs the path of redis-server}; shift ;;
      --lines-when-connected) NATLAB_LINES_AT=connected ;;
      *) NATLAB_ARGS+=("$1") ;;
    esac
    shift
  done
  [[ "$NATLAB_PEER_TIMEOUT" =~ ^[1-9][0-9]?$ && "$NATLAB_XFAIL_TIMEOUT" =~ ^[1-9][0-9]?$ ]] ||
    lab_die "timeouts are whole seconds from 1 to 99"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -uo pipefail
  natlab_parse_common "$@"
  set -- "${NATLAB_ARGS[@]}"
  [[ $# -ge 1 ]] || { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
  case "$1" in -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
  lab_preflight; natlab_need_apps; lab_init; lab_up; broker_start
  case "$1" in
    same-nat) run_same_nat_pair ;;
    cgn) run_cgn_pair ;;
    ipv6) run_ipv6_pair ;;
    dual-stack) run_dual_stack_pair ;;
    rebinding) run_rebinding_pair ;;
    cross-broker) run_cross_broker_pair ;;
    *)
      [[ $# -ge 2 ]] || lab_die "give two NAT types, or same-nat, cgn, ipv6, dual-stack or rebinding"
      ta=$(natlab_type_name "$1") || lab_die "unknown NAT type '$1'"
      tb=$(natlab_type_name "$2") || lab_die "unknown NAT type '$2'"
      shift 2
      expect=$(natlab_expected "$ta" "$tb") loss=0
      while [[ $# -gt 0 ]]; do
        case "$1" in
          --expect) expect=${2:?}; shift ;;
          --loss) loss=${2:?}; shift ;;
          *) lab_die "unknown option '$1'" ;;
        esac
        shift
      done
      if (( loss > 0 )); then
        [[ "$ta $tb" == "port-restricted port-restricted" ]] || lab_die "--loss needs port-restricted on both sides"
        run_loss_pair "$loss"
      else
        run_pair "$expect" "$ta->$tb" "a:$ta" "b:$tb"
      fi
      ;;
  esac
  [[ "$PAIR_RESULT" != FAIL ]]
fi
