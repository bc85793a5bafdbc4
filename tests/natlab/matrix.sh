#!/usr/bin/env bash
# The NAT lab's full run (what CTest's "natlab" test runs): the selftest of every NAT type,
# the 5x5 matrix of ordered pairs, then the scenarios (two peers behind one NAT, a peer behind
# a carrier-grade NAT, random loss, IPv6 behind stateful firewalls; on request a dual-stack
# pair and a NAT that "reboots" mid-stream), then the trials asked for. Every peer's line is
# typed into its stdin as it starts, before it is connected (as users do). Prints a line per
# run, the matrix, and a per-pair table (markdown, also in the run's log directory).
# Exits non-zero when the selftest fails or a run did not do what was expected (an expected
# failure that connects is reported as XPASS and does not fail the run).
#
# Usage: matrix.sh --broker PATH --peer PATH [--relay PATH] [--redis PATH] [--timeout S] [--xfail-timeout S] [--loss N]
#                  [--types "T1 T2 ..."] [--no-selftest] [--no-scenarios] [--no-ipv6] [--dual-stack]
#                  [--dual-stack-brokers "EP ..."] [--rebinding] [--rebinding-limit S]
#                  [--prediction-trials N] [--first-data-trials N] [--rebinding-trials N]
#                  [--lines-when-connected] [--table FILE]
#        matrix.sh --selftest-only
# --relay: run punch-relay too; the pairs that cannot punch must then connect through it.
# --redis PATH: redis-server; adds the cross-broker scenario (two brokers sharing a registry in
# Redis, alice at one, bob at the other, port-restricted NATs).
# --timeout: alice's deadline where the pair must connect (8); --xfail-timeout: where it is
# expected to fail (3); --loss: the loss scenario's and selftest's percentage (10; 0: skip it).
# --no-ipv6: skip the IPv6 scenario. --dual-stack: add the dual-stack one (IPv4 NAT + IPv6
# firewall, broker on [::]; the path must be IPv6); --dual-stack-brokers: what its peers get
# as their one --broker, the broker's two addresses (default "203.0.113.10:3578,[2001:db8::10]:3578").
# --rebinding: add the rebinding scenario (alice's NAT flushes its conntrack table and moves
# to other ports 6 s after connecting; both directions must resume within --rebinding-limit
# s, default 10). --no-rebinding (and --no-dual-stack) undo an earlier flag.
# --prediction-trials: N more symmetric<->port-restricted runs without the relay (alternating
# which side connects) and the share that connected by port prediction. --first-data-trials:
# N more runs of each of four pairs, counting the runs that lost a first line.
# --rebinding-trials: N more rebinding runs. --lines-when-connected: type the lines only
# once both peers are connected (the lab's old way; not in the first-data trials).
# --table FILE: also write the per-pair table to FILE.
# Prints "SKIPPED: <reason>" and exits 0 when not root or namespaces/nftables are unavailable.

# shellcheck source=run_pair.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/run_pair.sh"
# shellcheck source=selftest.sh
source "$NATLAB_DIR/selftest.sh"

declare -A CELL=()
COUNT_ok=0 COUNT_FAIL=0 COUNT_xfail=0 COUNT_XPASS=0 COUNT_skip=0

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
  local prediction_trials=0 first_data_trials=0 rebinding_trials=0 ipv6=1 dual_stack=0 rebinding=0
  local table_copy="" n_opt
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
      --first-data-trials) first_data_trials=${2:?--first-data-trials needs a count}; shift ;;
      --rebinding-trials) rebinding_trials=${2:?--rebinding-trials needs a count}; shift ;;
      --rebinding) rebinding=1 ;;
      --no-rebinding) rebinding=0 ;;
      --rebinding-limit) NATLAB_REBIND_LIMIT=${2:?--rebinding-limit needs seconds}; shift ;;
      --ipv6) ipv6=1 ;;
      --no-ipv6) ipv6=0 ;;
      --dual-stack) dual_stack=1 ;;
      --no-dual-stack) dual_stack=0 ;;
      --dual-stack-brokers) NATLAB_DS_BROKERS=${2:?--dual-stack-brokers needs endpoints}; shift ;;
      --table) table_copy=${2:?--table needs a file}; shift ;;
      -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
      *) echo "matrix.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
  done
  [[ "$loss" =~ ^[0-9]+$ ]] && (( loss < 100 )) || lab_die "--loss takes a percentage from 0 to 99"
  for n_opt in prediction_trials first_data_trials rebinding_trials; do
    [[ "${!n_opt}" =~ ^[0-9]+$ ]] && (( ${!n_opt} <= 1000 )) ||
      lab_die "--${n_opt//_/-} takes a count from 0 to 1000"
  done
  [[ "$NATLAB_REBIND_LIMIT" =~ ^[1-9][0-9]?$ ]] || lab_die "--rebinding-limit takes whole seconds from 1 to 99"
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
  PAIR_SCENARIO=plain
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

  if (( scenarios || dual_stack || rebinding )); then
    echo "== scenarios =="
    if (( scenarios )); then
      PAIR_SCENARIO=same-nat; run_same_nat_pair; tally
      PAIR_SCENARIO=cgn; run_cgn_pair; tally
      (( loss > 0 )) && { PAIR_SCENARIO="loss $loss%"; run_loss_pair "$loss"; tally; }
      (( ipv6 )) && { PAIR_SCENARIO=ipv6; run_ipv6_pair; tally; }
    fi
    (( dual_stack )) && { PAIR_SCENARIO=dual-stack; run_dual_stack_pair; tally; }
    (( rebinding )) && { PAIR_SCENARIO=rebinding; run_rebinding_pair; tally; }
    [[ -z "$NATLAB_REDIS" ]] || { PAIR_SCENARIO=cross-broker; run_cross_broker_pair; tally; }
  fi

  local predicted=0 i relay=$NATLAB_RELAY
  if (( prediction_trials > 0 )); then
    # Without the relay: what is measured is port prediction alone, as in the simulated runs.
    echo "== port prediction: $prediction_trials runs, symmetric <-> port-restricted, no relay =="
    NATLAB_RELAY="" PAIR_SCENARIO="prediction, no relay"
    for (( i = 1; i <= prediction_trials; i++ )); do
      printf '[%2d/%d] ' "$i" "$prediction_trials"
      if (( i % 2 )); then run_pair predicted "symmetric->port-restricted" a:symmetric b:port-restricted
      else run_pair predicted "port-restricted->symmetric" a:port-restricted b:symmetric; fi
      [[ "$PAIR_RESULT" == ok ]] && predicted=$((predicted + 1))
      tally
    done
    NATLAB_RELAY=$relay
  fi

  # The first line typed before the connection is up must not be lost (an accepting peer lost
  # it). Four pairs that take different paths, each N times; lines at start whatever
  # --lines-when-connected says. symmetric->symmetric needs the relay.
  local fd_pairs=("full-cone address-restricted" "port-restricted port-restricted" "symmetric symmetric"
                  "address-restricted port-restricted") fd_runs=0 fd_lost=0 fd_ab=0 fd_ba=0 fd_both=0 pr ta tb k
  if (( first_data_trials > 0 )); then
    echo "== first data: $first_data_trials runs of each of ${#fd_pairs[@]} pairs, lines typed at start =="
    local lines_at=$NATLAB_LINES_AT; NATLAB_LINES_AT=start PAIR_SCENARIO="first-data trials"
    k=0
    for (( i = 1; i <= first_data_trials; i++ )); do
      for pr in "${fd_pairs[@]}"; do
        k=$((k + 1)); read -r ta tb <<<"$pr"
        printf '[%2d/%d] ' "$k" "$(( first_data_trials * ${#fd_pairs[@]} ))"
        if [[ "$(natlab_expected "$ta" "$tb")" == fail ]]; then
          pair_skip "$ta->$tb" "$ta->$tb" "cannot connect without --relay"; tally; continue
        fi
        run_pair "$(natlab_expected "$ta" "$tb")" "$ta->$tb" "a:$ta" "b:$tb"; tally
        fd_runs=$((fd_runs + 1))
        case "$PAIR_LOST" in
          "alice->bob") fd_lost=$((fd_lost + 1)); fd_ab=$((fd_ab + 1)) ;;
          "bob->alice") fd_lost=$((fd_lost + 1)); fd_ba=$((fd_ba + 1)) ;;
          both) fd_lost=$((fd_lost + 1)); fd_both=$((fd_both + 1)) ;;
        esac
      done
    done
    NATLAB_LINES_AT=$lines_at
  fi

  local rb_ok=0
  if (( rebinding_trials > 0 )); then
    echo "== rebinding: $rebinding_trials runs, alice's port-restricted NAT reboots ${NATLAB_REBIND_AFTER} s after connecting =="
    PAIR_SCENARIO=rebinding
    for (( i = 1; i <= rebinding_trials; i++ )); do
      printf '[%2d/%d] ' "$i" "$rebinding_trials"
      run_rebinding_pair; tally
      [[ "$PAIR_RESULT" == ok ]] && rb_ok=$((rb_ok + 1))
    done
  fi

  print_matrix "${types[@]}"
  (( prediction_trials == 0 )) ||
    echo "port prediction: $predicted of $prediction_trials runs connected directly ($(( 100 * predicted / prediction_trials ))%)"
  (( first_data_trials == 0 )) ||
    echo "first data: $fd_lost of $fd_runs runs lost a first line (only alice's: $fd_ab, only bob's: $fd_ba, both: $fd_both)"
  (( rebinding_trials == 0 )) ||
    echo "rebinding: $rb_ok of $rebinding_trials runs resumed both ways within ${NATLAB_REBIND_LIMIT} s of the move"
  natlab_table "$LAB_LOGS/results.tsv" >"$LAB_LOGS/table.md"
  echo
  cat "$LAB_LOGS/table.md"
  [[ -z "$table_copy" ]] || cp "$LAB_LOGS/table.md" "$table_copy" || echo "natlab: could not write $table_copy" >&2
  echo
  echo "natlab: $COUNT_ok ok, $COUNT_xfail xfail, $COUNT_XPASS XPASS, $COUNT_FAIL FAIL, $COUNT_skip skipped;" \
       "selftest $([[ $selftest == 0 ]] && echo "not run" || { [[ $selftest_rc == 0 ]] && echo passed || echo FAILED; })" \
       "- $(elapsed "$started") s"
  (( COUNT_FAIL == 0 && selftest_rc == 0 ))
}

# natlab_table RESULTS → the per-pair table (markdown) from results.tsv (natlab_record): one row
# per scenario and pair, in the order they first ran.
natlab_table() {
  echo "| scenario | alice → bob | runs | ok | path (alice/bob) | time | p50 ms | p99 ms | notes |"
  echo "|---|---|---:|---:|---|---|---:|---:|---|"
  [[ -s "$1" ]] && awk -F '\t' '
    function short(p) {
      return p == "reflexive" ? "refl" : p == "peer-reflexive" ? "prflx" : p == "predicted" ? "pred" : p
    }
    # pct(list, n, q) → the nearest-rank q-quantile of the n numbers list[1..n] ("-" when n = 0).
    function pct(list, n, q,    i, j, v, a, r) {
      if (n == 0) return "-"
      for (i = 1; i <= n; i++) a[i] = list[i]
      for (i = 2; i <= n; i++) { v = a[i]; for (j = i - 1; j >= 1 && a[j] > v; j--) a[j + 1] = a[j]; a[j + 1] = v }
      r = int(q * n); if (r < q * n) r++
      return a[r < 1 ? 1 : r]
    }
    # kv(extra, name) → the number after "name=" in extra, or "".
    function kv(extra, name) {
      return match(extra, name "=-?[0-9]+") ? substr(extra, RSTART + length(name) + 1, RLENGTH - length(name) - 1) : ""
    }
    # add(name, key, value) → appends value to the list name[key, 1..count[name, key]].
    function add(name, key, value) { cnt[name, key]++; val[name, key, cnt[name, key]] = value + 0 }
    # q(name, key, quantile) → that quantile of the list.
    function q(name, key, quantile,    i, l) {
      for (i = 1; i <= cnt[name, key]; i++) l[i] = val[name, key, i]
      return pct(l, cnt[name, key] + 0, quantile)
    }
    {
      key = $1 SUBSEP $2
      if (!(key in runs)) { order[++nk] = key; scen[key] = $1; pair[key] = $2 }
      runs[key]++
      if ($3 == "ok" || $3 == "XPASS") ok[key]++
      if ($3 == "xfail") xfail[key]++
      if ($3 == "skip") skip[key]++
      if ($4 != "") {
        p = short($4); if ($5 != "" && short($5) != p) p = p "/" short($5)
        if (!((key, p) in pc)) pn[key, ++np[key]] = p
        pc[key, p]++
      }
      if ($6 != "") add("time", key, $6)
      if ($7 != "") { lost[key]++; lostdir[key, $7]++ }
      # Bob connected well before alice: his line, sent at once, met a peer still punching.
      if ((v = kv($8, "bob_lead")) != "" && v + 0 >= 20) lead[key]++
      if ($1 == "rebinding" && $4 != "") {
        moved[key]++
        if ((v = kv($8, "rec_ab")) != "") add("ab", key, v)
        if ((v = kv($8, "rec_ba")) != "") add("ba", key, v)
        if ((v = kv($8, "first_ab")) != "") add("fa", key, v)
        if ((v = kv($8, "first_ba")) != "") add("fb", key, v)
      }
    }
    END {
      for (k = 1; k <= nk; k++) {
        key = order[k]
        # Paths with their counts ("refl 3, pred 1"); "-" when no run connected.
        ptxt = ""
        for (i = 1; i <= np[key]; i++)
          ptxt = ptxt (i > 1 ? ", " : "") pn[key, i] (runs[key] > 1 ? " " pc[key, pn[key, i]] : "")
        notes = ""
        if (xfail[key]) notes = notes "; " xfail[key] " xfail (no direct path, no relay)"
        if (skip[key]) notes = notes "; " skip[key] " skipped"
        if (lost[key])
          notes = notes sprintf("; a first line lost in %d (alice'"'"'s %d, bob'"'"'s %d, both %d)", lost[key],
                                lostdir[key, "alice->bob"], lostdir[key, "bob->alice"], lostdir[key, "both"])
        if (scen[key] == "first-data trials")
          notes = notes sprintf("; bob connected ≥20 ms before alice in %d", lead[key])
        if (moved[key]) {
          notes = notes sprintf("; resumed alice→bob %d of %d (p50 %s ms), bob→alice %d of %d (p50 %s ms)",
                                cnt["ab", key], moved[key], q("ab", key, 0.5), cnt["ba", key], moved[key], q("ba", key, 0.5))
          if (cnt["fa", key] || cnt["fb", key])
            notes = notes sprintf("; from the first line sent after the move p50 %s / %s ms", q("fa", key, 0.5), q("fb", key, 0.5))
        }
        sub(/^; /, "", notes)
        printf "| %s | %s | %d | %d | %s | %s | %s | %s | %s |\n", scen[key], pair[key], runs[key], ok[key],
               ptxt == "" ? "-" : ptxt, scen[key] == "rebinding" ? "recovery" : "connect()",
               q("time", key, 0.5), q("time", key, 0.99), notes
      }
    }' "$1"
  echo
  echo "ok = connected, a line went each way, both exited 0 (rebinding: and both directions resumed"
  echo "within ${NATLAB_REBIND_LIMIT} s of the move). time: connect() = alice's connected event's ms minus her"
  echo "registered event's ms (punch-peer calls connect() right after registering), over the runs that"
  echo "connected; recovery = from the NAT's move to the first line written after it arriving, the slower"
  echo "direction, over the runs where both resumed. p50/p99: nearest rank (with fewer than 100 runs, p99"
  echo "is the slowest). Lines are typed at start$([[ $NATLAB_LINES_AT == start ]] || echo " only in the first-data trials");"
  echo "a line not printed by the other side within ${NATLAB_LINE_WAIT} s of both being connected is lost."
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then matrix_main "$@"; fi
