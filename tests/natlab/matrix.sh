#!/usr/bin/env bash
# The NAT lab's full run (what CTest's "natlab" test runs): the selftest of every NAT type,
# the 5x5 matrix of ordered pairs, then the scenarios (two peers behind one NAT, a peer behind
# a carrier-grade NAT, random loss). Prints a line per run and the matrix at the end.
# Exits non-zero when the selftest fails or a run expected to connect did not (an expected
# failure that connects is reported as XPASS and does not fail the run).
#
# Usage: matrix.sh --broker PATH --peer PATH [--relay PATH] [--timeout S] [--xfail-timeout S] [--loss N]
#                  [--types "T1 T2 ..."] [--no-selftest] [--no-scenarios] [--prediction-trials N]
#        matrix.sh --selftest-only
# --relay: run punch-relay too; the pairs that cannot punch must then connect through it.
# --timeout: alice's deadline where the pair must connect (8); --xfail-timeout: where it is
# expected to fail (3); --loss: the loss scenario's and selftest's percentage (10; 0: skip it).
# --prediction-trials: after the matrix, N more symmetric<->port-restricted runs without the
# relay (alternating which side connects) and the share that connected by port prediction.
# Prints "SKIPPED: <reason>" and exits 0 when not root or namespaces/nftables are unavailable.

# shellcheck source=run_pair.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/run_pair.sh"
# shellcheck source=selftest.sh
source "$NATLAB_DIR/selftest.sh"

declare -A CELL=()
COUNT_ok=0 COUNT_FAIL=0 COUNT_xfail=0 COUNT_XPASS=0

short_path() {
  case "$1" in
    host) echo host ;; reflexive) echo refl ;; peer-reflexive) echo prflx ;; predicted) echo pred ;;
    relay) echo relay ;;
    "") echo "?" ;; *) echo "$1" ;;
  esac
}

tally() {
  local var="COUNT_$PAIR_RESULT"
  printf -v "$var" '%d' $(( ${!var} + 1 ))
}

# cell_text → the matrix cell for the last run_pair.
cell_text() {
  case "$PAIR_RESULT" in
    ok|XPASS) echo "$PAIR_RESULT $(short_path "$PAIR_PATH") ${PAIR_MS:-?}ms" ;;
    *) echo "$PAIR_RESULT" ;;
  esac
}

print_matrix() {
  local -a types=("$@")
  local a b w=20
  echo
  echo "NAT lab matrix (rows: alice's NAT, she connects; columns: bob's NAT, he accepts)"
  printf '%-20s' "alice \\ bob"
  for b in "${types[@]}"; do printf '%-*s' "$w" "$b"; done
  echo
  for a in "${types[@]}"; do
    printf '%-20s' "$a"
    for b in "${types[@]}"; do printf '%-*s' "$w" "${CELL[$a,$b]:-(not run)}"; done
    echo
  done
  echo "ok = connected, a line went each way, both exited 0; then the path kind alice chose (host, refl ="
  echo "server-reflexive, prflx = peer-reflexive, pred = port prediction, relay = through punch-relay) and ms"
  echo "from alice's start to connected (registering included);"
  echo "xfail = expected not to connect and failed cleanly (punch timeout); XPASS = expected to fail but connected."
}

matrix_main() {
  set -uo pipefail
  local selftest=1 scenarios=1 only_selftest=0 loss=${NATLAB_LOSS:-10} types=("${NATLAB_TYPES[@]}") t
  local prediction_trials=0
  natlab_parse_common "$@"
  set -- "${NATLAB_ARGS[@]}"
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --no-selftest) selftest=0 ;;
      --no-scenarios) scenarios=0 ;;
      --selftest-only) only_selftest=1 ;;
      --loss) loss=${2:?--loss needs a percentage}; shift ;;
      --types) read -r -a types <<<"${2:?--types needs a list}"; shift ;;
      --prediction-trials) prediction_trials=${2:?--prediction-trials needs a count}; shift ;;
      -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
      *) echo "matrix.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
  done
  [[ "$loss" =~ ^[0-9]+$ ]] && (( loss < 100 )) || lab_die "--loss takes a percentage from 0 to 99"
  [[ "$prediction_trials" =~ ^[0-9]+$ ]] && (( prediction_trials <= 1000 )) ||
    lab_die "--prediction-trials takes a count from 0 to 1000"
  for t in "${!types[@]}"; do types[$t]=$(natlab_type_name "${types[$t]}") || lab_die "unknown NAT type '${types[$t]}'"; done

  lab_preflight
  (( only_selftest )) || natlab_need_apps
  lab_init
  local started=$EPOCHREALTIME selftest_rc=0
  lab_up
  echo "natlab: lab up (${#LAB_NS[@]} namespaces) in $(elapsed "$started") s"
  if (( selftest || only_selftest )); then
    echo "== selftest: does each NAT box behave as its type claims? =="
    selftest_all "$loss" || selftest_rc=1
    if (( only_selftest )); then
      echo "natlab: selftest $([[ $selftest_rc == 0 ]] && echo passed || echo FAILED) in $(elapsed "$started") s (apps not run)"
      return $selftest_rc
    fi
    (( selftest_rc == 0 )) || echo "natlab: the selftest failed, so the runs below go through NATs that are not what they claim"
  fi

  broker_start
  echo "== matrix: alice (connects) -> bob (accepts); alice's timeout ${NATLAB_PEER_TIMEOUT} s, ${NATLAB_XFAIL_TIMEOUT} s where failure is expected =="
  local a b n=0 total=$(( ${#types[@]} * ${#types[@]} ))
  for a in "${types[@]}"; do
    for b in "${types[@]}"; do
      n=$((n + 1))
      printf '[%2d/%d] ' "$n" "$total"
      run_pair "$(natlab_expected "$a" "$b")" "$a->$b" "a:$a" "b:$b"
      CELL[$a,$b]=$(cell_text); tally
    done
  done

  if (( scenarios )); then
    echo "== scenarios =="
    run_same_nat_pair; tally
    run_cgn_pair; tally
    (( loss > 0 )) && { run_loss_pair "$loss"; tally; }
  fi

  local predicted=0 i relay=$NATLAB_RELAY
  if (( prediction_trials > 0 )); then
    # Without the relay: what is measured is port prediction alone, as in the simulated runs.
    echo "== port prediction: $prediction_trials runs, symmetric <-> port-restricted, no relay =="
    NATLAB_RELAY=""
    for (( i = 1; i <= prediction_trials; i++ )); do
      printf '[%2d/%d] ' "$i" "$prediction_trials"
      if (( i % 2 )); then run_pair predicted "symmetric->port-restricted" a:symmetric b:port-restricted
      else run_pair predicted "port-restricted->symmetric" a:port-restricted b:symmetric; fi
      [[ "$PAIR_RESULT" == ok ]] && predicted=$((predicted + 1))
      tally
    done
    NATLAB_RELAY=$relay
  fi

  print_matrix "${types[@]}"
  (( prediction_trials == 0 )) ||
    echo "port prediction: $predicted of $prediction_trials runs connected directly ($(( 100 * predicted / prediction_trials ))%)"
  echo
  echo "natlab: $COUNT_ok ok, $COUNT_xfail xfail, $COUNT_XPASS XPASS, $COUNT_FAIL FAIL;" \
       "selftest $([[ $selftest == 0 ]] && echo "not run" || { [[ $selftest_rc == 0 ]] && echo passed || echo FAILED; })" \
       "- $(elapsed "$started") s"
  (( COUNT_FAIL == 0 && selftest_rc == 0 ))
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then matrix_main "$@"; fi
