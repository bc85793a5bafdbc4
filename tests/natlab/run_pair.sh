#!/usr/bin/env bash
# One NAT lab run: a fresh topology, punch-broker on the public switch, an accepting peer
# ("bob", side b) and a connecting peer ("alice", side a), a line each way, EOF, both exit 0.
# Every wait is bounded; every process is stopped and every namespace deleted afterwards.
#
# Usage: run_pair.sh --broker PATH --peer PATH [--timeout S] TYPE_A TYPE_B [--loss N]
#                    [--cgn TYPE] [--same-nat] [--expect ok|fail]
#   TYPE_A is alice's NAT (she connects), TYPE_B is bob's (he accepts); --cgn puts a
#   carrier-grade NAT of TYPE in front of alice's NAT; --same-nat puts bob beside alice.
# Prints one line per run; on failure the last lines of each process's stderr.

# shellcheck source=lab.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lab.sh"

NATLAB_BROKER=${NATLAB_BROKER:-}
NATLAB_PEER=${NATLAB_PEER:-}
NATLAB_PEER_TIMEOUT=${NATLAB_PEER_TIMEOUT:-5}
PAIR_RESULT="" PAIR_PATH="" PAIR_MS=""

# json_field FILE EVENT FIELD → the FIELD of the first EVENT line in FILE (strings unquoted).
json_field() {
  grep -m1 -E "\"event\" *: *\"$2\"" "$1" 2>/dev/null |
    sed -nE "s/.*\"$3\" *: *(\"([^\"]*)\"|([0-9.]+)).*/\2\3/p"
}
# last_error FILE → the last line of FILE that is not a JSON event.
last_error() { grep -v '^ *{' "$1" 2>/dev/null | grep -v '^ *$' | tail -n 1; }

# run_pair EXPECT LABEL TYPE_A TYPE_B [--loss N] [--cgn TYPE] [--same-nat]
#   EXPECT is ok or fail; sets PAIR_RESULT (ok|FAIL|xfail|XPASS), PAIR_PATH, PAIR_MS.
run_pair() {
  local expect=$1 label=$2 ta=$3 tb=$4; shift 4
  local loss=0 cgn="" same=0 lines=1
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --loss) loss=$2; shift ;;
      --cgn) cgn=$2; shift ;;
      --same-nat) same=1 ;;
      *) lab_die "run_pair: unknown option $1" ;;
    esac
    shift
  done
  # Datagrams carry the lines: under loss send several, and require one to arrive each way.
  (( loss > 0 )) && lines=5
  local dir="$LAB_LOGS/pair-${label//[^A-Za-z0-9.%+-]/_}" started=$EPOCHREALTIME
  local why="" notes=() t=$NATLAB_PEER_TIMEOUT
  mkdir -p "$dir"
  PAIR_RESULT="" PAIR_PATH="" PAIR_MS=""

  lab_up
  lab_side a "$ta" --loss "$loss" ${cgn:+--cgn "$cgn"}
  if (( same )); then lab_side_beside b a; else lab_side b "$tb" --loss "$loss"; fi
  local broker_ep="$LAB_BROKER_IP:$LAB_BROKER_PORT" tag="run$LAB_SEQ"

  lab_spawn /dev/null "$dir/broker.out" "$dir/broker.err" "$(lab_ns_name brk)" \
    "$NATLAB_BROKER" --listen "$broker_ep" --transport udp
  local broker=$LAB_LAST_PID n=100
  while (( n-- > 0 )) && lab_alive "$broker" &&
        [[ -z "$(ip netns exec "$(lab_ns_name brk)" ss -Hlun "sport = :$LAB_BROKER_PORT" 2>/dev/null)" ]]; do
    sleep 0.05
  done
  lab_alive "$broker" && (( n >= 0 )) || why="broker did not start listening on $broker_ep"

  local bob="" alice="" bob_fd="" alice_fd=""
  if [[ -z "$why" ]]; then
    lab_open_fifo "$dir/bob.in"; bob_fd=$LAB_FD
    lab_spawn "$dir/bob.in" "$dir/bob.out" "$dir/bob.err" "${LAB_HOST_NS[b]}" \
      "$NATLAB_PEER" --broker "$broker_ep" --id bob --timeout "$((2 * t))" --events
    bob=$LAB_LAST_PID
    lab_wait_for "$dir/bob.err" '"event" *: *"registered"' 5 "$bob" ||
      why="bob did not register with the broker ($(last_error "$dir/bob.err"))"
  fi
  if [[ -z "$why" ]]; then
    lab_open_fifo "$dir/alice.in"; alice_fd=$LAB_FD
    lab_spawn "$dir/alice.in" "$dir/alice.out" "$dir/alice.err" "${LAB_HOST_NS[a]}" \
      "$NATLAB_PEER" --broker "$broker_ep" --id alice --connect bob --timeout "$t" --events
    alice=$LAB_LAST_PID
    # Both must report connected (or alice must give up) within her timeout plus slack.
    n=$(( (t + 5) * 20 ))
    while (( n-- > 0 )); do
      grep -qs '"event" *: *"connected"' "$dir/alice.err" && grep -qs '"event" *: *"connected"' "$dir/bob.err" && break
      lab_alive "$alice" && lab_alive "$bob" || break
      sleep 0.05
    done
  fi

  local connected=0
  if [[ -z "$why" ]] && grep -qs '"event" *: *"connected"' "$dir/alice.err" &&
     lab_wait_for "$dir/bob.err" '"event" *: *"connected"' 1; then
    connected=1
    PAIR_PATH=$(json_field "$dir/alice.err" connected path); PAIR_MS=$(json_field "$dir/alice.err" connected ms)
    local bob_path bob_ms i
    bob_path=$(json_field "$dir/bob.err" connected path); bob_ms=$(json_field "$dir/bob.err" connected ms)
    for (( i = 1; i <= lines; i++ )); do
      printf 'from-alice-%s-%d\n' "$tag" "$i" >&"$alice_fd"
      printf 'from-bob-%s-%d\n' "$tag" "$i" >&"$bob_fd"
      (( lines > 1 )) && sleep 0.1
    done
    lab_wait_for "$dir/bob.out" "^from-alice-$tag-[0-9]+\$" 3 "$bob" ||
      why="bob never printed alice's line"
    lab_wait_for "$dir/alice.out" "^from-bob-$tag-[0-9]+\$" 3 "$alice" ||
      why="${why:+$why; }alice never printed bob's line"
    # EOF on alice's stdin closes the connection; bob must exit by himself.
    lab_close_fd "$alice_fd"
    lab_wait_exit "$alice" 5; local alice_rc=$LAB_STATUS
    lab_wait_exit "$bob" 3; local bob_rc=$LAB_STATUS
    if [[ "$bob_rc" == running ]]; then
      notes+=("bob did not exit on alice's close, so his stdin was closed too")
      lab_close_fd "$bob_fd"
      lab_wait_exit "$bob" 3; bob_rc=$LAB_STATUS
    fi
    [[ "$alice_rc" == 0 ]] || why="${why:+$why; }alice exited $alice_rc ($(last_error "$dir/alice.err"))"
    [[ "$bob_rc" == 0 ]] || why="${why:+$why; }bob exited $bob_rc ($(last_error "$dir/bob.err"))"
    notes=("path $PAIR_PATH, ${PAIR_MS} ms (bob: $bob_path, $bob_ms ms)" "${notes[@]}")
  elif [[ -z "$why" ]]; then
    # Not connected: a clean failure is alice, once introduced, exiting non-zero with a
    # timeout error (a registration timeout or a lost introduction is not what we expect).
    lab_wait_exit "$alice" $(( t + 5 )); local alice_rc=$LAB_STATUS err
    err=$(last_error "$dir/alice.err")
    if [[ "$alice_rc" == running ]]; then why="not connected, and alice still running $((t + 5)) s after her ${t} s timeout"
    elif [[ "$alice_rc" == 0 ]]; then why="not connected, yet alice exited 0"
    elif ! grep -qs '"event" *: *"introduced"' "$dir/alice.err"; then
      why="alice exited $alice_rc before the broker introduced bob, so no punch was tried: ${err:-<no message>}"
    elif ! grep -qiE 'tim(e|ed)[ _-]?out' <<<"$err"; then why="not connected; alice exited $alice_rc without a timeout error: ${err:-<no message>}"
    else notes+=("alice exited $alice_rc: $err")
    fi
    [[ -n "$why" ]] || notes+=("$(grep -q '"event" *: *"connected"' "$dir/bob.err" && echo "bob saw connected!?" || echo "bob not connected")")
  fi

  if (( connected )) && [[ -z "$why" ]]; then
    if [[ "$expect" == ok ]]; then PAIR_RESULT=ok; else PAIR_RESULT=XPASS; fi
  elif (( ! connected )) && [[ -z "$why" && "$expect" == fail ]]; then
    PAIR_RESULT=xfail
  else
    PAIR_RESULT=FAIL
    [[ -z "$why" ]] && why="expected to connect"
  fi
  printf '%-46s %-5s %s  [%s s]\n' "$label" "$PAIR_RESULT" \
    "$(join_notes ${why:+"$why"} "${notes[@]}")" "$(elapsed "$started")"
  if [[ "$PAIR_RESULT" == FAIL ]]; then
    local f
    for f in broker bob alice; do
      [[ -s "$dir/$f.err" ]] || continue
      echo "    --- last lines of $f's stderr ---"
      tail -n 6 "$dir/$f.err" | sed 's/^/    /'
    done
  fi
  lab_down
}

# natlab_need_apps → fails when the broker or peer binary is missing.
natlab_need_apps() {
  [[ -n "$NATLAB_BROKER" && -x "$NATLAB_BROKER" ]] || lab_die "no punch-broker binary (give --broker PATH; got '${NATLAB_BROKER}')"
  [[ -n "$NATLAB_PEER" && -x "$NATLAB_PEER" ]] || lab_die "no punch-peer binary (give --peer PATH; got '${NATLAB_PEER}')"
  NATLAB_BROKER=$(readlink -f "$NATLAB_BROKER"); NATLAB_PEER=$(readlink -f "$NATLAB_PEER")
}

# natlab_parse_common ARGS... → consumes --broker/--peer/--timeout; the rest lands in NATLAB_ARGS.
natlab_parse_common() {
  NATLAB_ARGS=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --broker) NATLAB_BROKER=$2; shift ;;
      --peer) NATLAB_PEER=$2; shift ;;
      --timeout) NATLAB_PEER_TIMEOUT=$2; shift ;;
      *) NATLAB_ARGS+=("$1") ;;
    esac
    shift
  done
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -uo pipefail
  natlab_parse_common "$@"
  set -- "${NATLAB_ARGS[@]}"
  [[ $# -ge 2 ]] || { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
  lab_preflight; natlab_need_apps; lab_init
  ta=$(natlab_type_name "$1") || lab_die "unknown NAT type '$1'"
  tb=$(natlab_type_name "$2") || lab_die "unknown NAT type '$2'"
  shift 2
  expect=$(natlab_expected "$ta" "$tb"); opts=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --expect) expect=$2; shift ;;
      *) opts+=("$1") ;;
    esac
    shift
  done
  run_pair "$expect" "$ta->$tb" "$ta" "$tb" "${opts[@]}"
  [[ "$PAIR_RESULT" != FAIL ]]
fi
