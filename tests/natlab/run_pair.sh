#!/usr/bin/env bash
# Peer runs in the NAT lab: punch-broker (and, with --relay, punch-relay) on the public switch,
# an accepting peer ("bob-N") and a connecting peer ("alice-N") on two peer hosts, a line each
# way, EOF, both exit 0.
# Every wait is bounded; both peers are stopped afterwards (the broker at the end of the run).
#
# Usage: run_pair.sh --broker PATH --peer PATH [--relay PATH] [--timeout S] [--xfail-timeout S]
#                    TYPE_A TYPE_B [--loss N] [--expect ok|fail]
#        run_pair.sh --broker PATH --peer PATH same-nat|cgn
#   TYPE_A is alice's NAT (she connects), TYPE_B is bob's (he accepts). same-nat: both
#   behind one port-restricted NAT; cgn: alice behind a home NAT behind a carrier-grade NAT,
#   bob behind a port-restricted NAT. --loss N: N% loss on both port-restricted boxes (only
#   with TYPE_A = TYPE_B = port-restricted).
# Prints one line per run; on failure the last lines of each process's stderr.

# shellcheck source=lab.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lab.sh"

NATLAB_BROKER=${NATLAB_BROKER:-}
NATLAB_PEER=${NATLAB_PEER:-}
# punch-relay: when given, it runs next to the broker and every peer may fall back on it.
NATLAB_RELAY=${NATLAB_RELAY:-}
LAB_RELAY_PORT=3479
# Alice's deadline (registration plus connect) when the pair must connect: generous, it costs
# nothing when they do. When the pair is expected to fail it is all the pair costs, so short.
NATLAB_PEER_TIMEOUT=${NATLAB_PEER_TIMEOUT:-8}
NATLAB_XFAIL_TIMEOUT=${NATLAB_XFAIL_TIMEOUT:-3}
LAB_BROKER_PORT=3478
LAB_OTHER_PORT=3480  # the broker's second port: peers learn whether their NAT is easy or hard
PAIR_SEQ=0
PAIR_RESULT="" PAIR_PATH="" PAIR_MS=""
BROKER_PID="" BROKER_DIR="" RELAY_PID=""

# json_field FILE EVENT FIELD → the FIELD of the first EVENT line in FILE (strings unquoted).
json_field() {
  grep -m1 -E "\"event\" *: *\"$2\"" "$1" 2>/dev/null |
    sed -nE "s/.*\"$3\" *: *(\"([^\"]*)\"|([0-9.]+)).*/\2\3/p"
}
# has_event FILE EVENT
has_event() { grep -qs -E "\"event\" *: *\"$2\"" "$1"; }
# last_error FILE → the last line of FILE that is not a JSON event.
last_error() { grep -v '^ *{' "$1" 2>/dev/null | grep -v '^ *$' | tail -n 1; }

# broker_start → punch-broker on the broker host, for every run of this lab.
broker_start() {
  BROKER_DIR="$LAB_LOGS/broker"; mkdir -p "$BROKER_DIR"
  local ep="$LAB_BROKER_IP:$LAB_BROKER_PORT"
  # It serves the whole run, so its cap is the run's, not one peer's.
  local LAB_PROC_LIMIT=$LAB_RUN_LIMIT
  lab_spawn /dev/null "$BROKER_DIR/out" "$BROKER_DIR/err" "$(lab_ns_name brk)" \
    "$NATLAB_BROKER" --listen "$ep" --transport udp --other-port "$LAB_OTHER_PORT"
  BROKER_PID=$LAB_LAST_PID
  # Its first line says it listens (after the bind).
  lab_wait_for "$BROKER_DIR/err" 'listening on' 10 "$BROKER_PID" ||
    lab_die "punch-broker did not start listening on $ep: $(tail -n 3 "$BROKER_DIR/err")"
  [[ -n "$NATLAB_RELAY" ]] || return 0
  local rep="$LAB_BROKER_IP:$LAB_RELAY_PORT"
  lab_spawn /dev/null "$BROKER_DIR/relay.out" "$BROKER_DIR/relay.err" "$(lab_ns_name brk)" \
    "$NATLAB_RELAY" --listen "$rep" --transport udp
  RELAY_PID=$LAB_LAST_PID
  lab_wait_for "$BROKER_DIR/relay.err" 'listening on' 10 "$RELAY_PID" ||
    lab_die "punch-relay did not start listening on $rep: $(tail -n 3 "$BROKER_DIR/relay.err")"
}

# run_pair EXPECT LABEL ALICE_ROLE BOB_ROLE [LINES]
#   Roles are lab hosts ("a:symmetric", "b:none", "a2:port-restricted", "c:cgn"); EXPECT is ok
#   (connect on a direct path), predicted (connect directly by port prediction: either side's
#   path is "predicted"), relay (connect through the relay) or fail; LINES lines go each
#   way (one must arrive). Sets PAIR_RESULT (ok|FAIL|xfail|XPASS), PAIR_PATH, PAIR_MS.
run_pair() {
  local expect=$1 label=$2 ra=$3 rb=$4 lines=${5:-1}
  PAIR_SEQ=$((PAIR_SEQ + 1))
  local n=$PAIR_SEQ dir="$LAB_LOGS/pair-$PAIR_SEQ" started=$EPOCHREALTIME
  local why="" notes=() t=$NATLAB_PEER_TIMEOUT
  [[ "$expect" == fail ]] && t=$NATLAB_XFAIL_TIMEOUT
  mkdir -p "$dir"; echo "$label" >"$dir/label"
  PAIR_RESULT="" PAIR_PATH="" PAIR_MS=""
  local broker_ep="$LAB_BROKER_IP:$LAB_BROKER_PORT" alice_id="alice-$n" bob_id="bob-$n"
  local relay_opt=()
  [[ -z "$NATLAB_RELAY" ]] || relay_opt=(--relay "$LAB_BROKER_IP:$LAB_RELAY_PORT")
  # Fresh ports per run: no conntrack entry or address-set element of an earlier run matches.
  local alice_bind="0.0.0.0:$((20000 + n))" bob_bind="0.0.0.0:$((30000 + n))"

  lab_alive "$BROKER_PID" || why="punch-broker is gone ($(tail -n 1 "$BROKER_DIR/err"))"
  local bob="" alice="" bob_fd="" alice_fd="" a_ok=0 b_ok=0 connected=0
  if [[ -z "$why" ]]; then
    lab_open_fifo "$dir/bob.in"; bob_fd=$LAB_FD
    lab_spawn "$dir/bob.in" "$dir/bob.out" "$dir/bob.err" "${LAB_HOST_NS[$rb]}" \
      "$NATLAB_PEER" --broker "$broker_ep" --id "$bob_id" --bind "$bob_bind" --timeout "$((t + 10))" --events \
      --key "$dir/$bob_id.key" "${relay_opt[@]}"
    bob=$LAB_LAST_PID
    lab_wait_for "$dir/bob.err" '"event" *: *"registered"' 10 "$bob" ||
      why="bob did not register with the broker ($(last_error "$dir/bob.err"))"
  fi
  if [[ -z "$why" ]]; then
    lab_open_fifo "$dir/alice.in"; alice_fd=$LAB_FD
    lab_spawn "$dir/alice.in" "$dir/alice.out" "$dir/alice.err" "${LAB_HOST_NS[$ra]}" \
      "$NATLAB_PEER" --broker "$broker_ep" --id "$alice_id" --bind "$alice_bind" --connect "$bob_id" \
      --timeout "$t" --events --key "$dir/$alice_id.key" "${relay_opt[@]}"
    alice=$LAB_LAST_PID
    # Both must report connected, or alice give up, within her deadline plus slack; once one
    # side has, the other gets 5 s more.
    local one=0
    lab_deadline $(( t + 5 ))
    while lab_alive "$alice" && lab_alive "$bob"; do
      has_event "$dir/alice.err" connected && a_ok=1 || a_ok=0
      has_event "$dir/bob.err" connected && b_ok=1 || b_ok=0
      (( a_ok && b_ok )) && break
      if (( (a_ok || b_ok) && !one )); then one=1; lab_deadline 5; fi
      lab_waiting || break
    done
  fi

  a_ok=0 b_ok=0
  if [[ -z "$why" ]]; then
    has_event "$dir/alice.err" connected && a_ok=1
    has_event "$dir/bob.err" connected && b_ok=1
  fi
  if (( a_ok && b_ok )); then
    connected=1
    PAIR_PATH=$(json_field "$dir/alice.err" connected path); PAIR_MS=$(json_field "$dir/alice.err" connected ms)
    local bob_path bob_ms i
    bob_path=$(json_field "$dir/bob.err" connected path); bob_ms=$(json_field "$dir/bob.err" connected ms)
    for (( i = 1; i <= lines; i++ )); do
      printf 'from-alice-%d-%d\n' "$n" "$i" >&"$alice_fd"
      printf 'from-bob-%d-%d\n' "$n" "$i" >&"$bob_fd"
      (( lines > 1 )) && sleep 0.1
    done
    lab_wait_for "$dir/bob.out" "^from-alice-$n-[0-9]+\$" 5 "$bob" ||
      why="bob never printed alice's line"
    lab_wait_for "$dir/alice.out" "^from-bob-$n-[0-9]+\$" 5 "$alice" ||
      why="${why:+$why; }alice never printed bob's line"
    # EOF on alice's stdin closes the connection; bob must exit by himself.
    lab_close_fd "$alice_fd"; alice_fd=""
    lab_wait_exit "$alice" 5; local alice_rc=$LAB_STATUS
    lab_wait_exit "$bob" 5; local bob_rc=$LAB_STATUS
    [[ "$alice_rc" != running ]] || why="${why:+$why; }alice did not exit at the end of her stdin"
    [[ "$alice_rc" == 0 || "$alice_rc" == running ]] || why="${why:+$why; }alice exited $alice_rc ($(last_error "$dir/alice.err"))"
    [[ "$bob_rc" != running ]] || why="${why:+$why; }bob did not exit after alice closed the connection"
    [[ "$bob_rc" == 0 || "$bob_rc" == running ]] || why="${why:+$why; }bob exited $bob_rc ($(last_error "$dir/bob.err"))"
    notes=("path $PAIR_PATH, ${PAIR_MS} ms (bob: $bob_path, $bob_ms ms)")
    # Direct wherever punching works; the relay only where it cannot.
    if [[ "$expect" == relay && "$PAIR_PATH" != relay ]]; then
      why="${why:+$why; }expected the relay path, got $PAIR_PATH"
    elif [[ "$expect" == ok && "$PAIR_PATH" == relay ]]; then
      why="${why:+$why; }went through the relay where a direct path should open"
    elif [[ "$expect" == predicted && "$PAIR_PATH" != predicted && "$bob_path" != predicted ]]; then
      why="${why:+$why; }expected port prediction's path, got $PAIR_PATH (bob: $bob_path)"
    fi
  elif (( a_ok || b_ok )); then
    # Half a connection is never right, whatever was expected.
    local who=alice other=bob
    (( b_ok )) && { who=bob; other=alice; }
    why="$who reported connected ($(json_field "$dir/$who.err" connected path) path), $other never did"
    lab_wait_exit "${!other}" 1
    local err; err=$(last_error "$dir/$other.err")
    why+=" (${err:-$other still waiting})"
  elif [[ -z "$why" ]]; then
    # Neither connected: a clean failure is alice exiting 1 with the punch-timeout error after
    # the broker introduced both sides (bob's "introduced" proves it); anything else is a bug.
    lab_wait_exit "$alice" 5; local alice_rc=$LAB_STATUS err
    err=$(last_error "$dir/alice.err")
    if [[ "$alice_rc" == running ]]; then why="not connected, and alice still running 5 s after her ${t} s deadline"
    elif [[ "$alice_rc" == 0 ]]; then why="not connected, yet alice exited 0"
    elif ! has_event "$dir/bob.err" introduced; then
      why="alice exited $alice_rc and bob was never introduced, so no punch was tried: ${err:-<no message>}"
    elif ! grep -qE 'hole punching .*timed out' <<<"$err"; then
      why="not connected; alice exited $alice_rc without the punch-timeout error: ${err:-<no message>}"
    else notes+=("alice exited $alice_rc: ${err#punch-peer: }")
    fi
  fi
  [[ -z "$alice" ]] || lab_stop "$alice"
  [[ -z "$bob" ]] || lab_stop "$bob"
  [[ -z "$alice_fd" ]] || lab_close_fd "$alice_fd"
  [[ -z "$bob_fd" ]] || lab_close_fd "$bob_fd"

  if (( connected )) && [[ -z "$why" ]]; then
    if [[ "$expect" != fail ]]; then PAIR_RESULT=ok; else PAIR_RESULT=XPASS; fi
  elif (( ! connected )) && [[ -z "$why" && "$expect" == fail ]]; then
    PAIR_RESULT=xfail
  else
    PAIR_RESULT=FAIL
    [[ -n "$why" ]] || why="expected to connect"
  fi
  printf '%-44s %-5s %s  [%s s]\n' "$label" "$PAIR_RESULT" \
    "$(join_notes ${why:+"$why"} "${notes[@]}")" "$(elapsed "$started")"
  if [[ "$PAIR_RESULT" == FAIL ]]; then
    local f
    for f in "$BROKER_DIR/err" "$dir/bob.err" "$dir/alice.err"; do
      [[ -s "$f" ]] || continue
      echo "    --- last lines of $f ---"
      tail -n 6 "$f" | sed 's/^/    /'
    done
  fi
}

# run_loss_pair PERCENT → port-restricted on both sides with PERCENT% loss on both boxes.
run_loss_pair() {
  local a=${LAB_BOX_NS[a:port-restricted]} b=${LAB_BOX_NS[b:port-restricted]}
  lab_loss "$a" "$1"; lab_loss "$b" "$1"
  # Under loss send several lines each way; one must arrive.
  run_pair "$(natlab_expected scenario loss)" "loss $1% (port-restricted, both boxes)" \
    a:port-restricted b:port-restricted 5
  lab_loss "$a" 0; lab_loss "$b" 0
}

run_same_nat_pair() {
  run_pair "$(natlab_expected scenario same-nat)" "same-nat (both behind one port-restricted)" \
    a:port-restricted a2:port-restricted
}

run_cgn_pair() {
  run_pair "$(natlab_expected scenario cgn)" "cgn (alice: port-r. behind CGN port-r.)" \
    c:cgn b:port-restricted
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

# natlab_parse_common ARGS... → consumes --broker/--peer/--timeout/--xfail-timeout; the rest
# lands in NATLAB_ARGS.
natlab_parse_common() {
  NATLAB_ARGS=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --broker) NATLAB_BROKER=${2:?--broker needs a path}; shift ;;
      --peer) NATLAB_PEER=${2:?--peer needs a path}; shift ;;
      --timeout) NATLAB_PEER_TIMEOUT=${2:?--timeout needs seconds}; shift ;;
      --xfail-timeout) NATLAB_XFAIL_TIMEOUT=${2:?--xfail-timeout needs seconds}; shift ;;
      --relay) NATLAB_RELAY=${2:?--relay needs a path}; shift ;;
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
  [[ $# -ge 1 ]] || { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
  lab_preflight; natlab_need_apps; lab_init; lab_up; broker_start
  case "$1" in
    same-nat) run_same_nat_pair ;;
    cgn) run_cgn_pair ;;
    *)
      [[ $# -ge 2 ]] || lab_die "give two NAT types, or same-nat, or cgn"
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
