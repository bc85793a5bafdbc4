#!/usr/bin/env bash
# The full measurement behind docs/performance.md: punch-bench against punch-broker, the
# punch-echo ceiling, coturn (turnserver --stun-only, one relay thread, loopback only) and
# two brokers sharing a redis-server (when installed), interleaved rounds, then the broker's
# memory curve up to --peers registrations and its plot (gnuplot).
# Usage: bench/run.sh [BUILD_DIR] [OUT_DIR] [punch-bench options...]
# (defaults: build-bench, BUILD_DIR/bench-results); docs/performance.md quotes its output.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build-bench}
out=${2:-$build/bench-results}
shift $(( $# > 2 ? 2 : $# ))
bench="$build/bench/punch-bench"
[[ -x $bench ]] || { echo "run.sh: no $bench; build the punch-bench target first" >&2; exit 2; }
mkdir -p "$out"

servers=()
if command -v turnserver >/dev/null; then servers=(--coturn "$(command -v turnserver)"); fi
# Two brokers sharing a registry in a redis-server of the bench's own (docs/performance.md).
if command -v redis-server >/dev/null; then servers+=(--redis "$(command -v redis-server)"); fi

{
  echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "# $bench ${servers[*]} --csv $out/runs.csv --memory-csv $out/memory.csv $*"
  "$bench" "${servers[@]}" --csv "$out/runs.csv" --memory-csv "$out/memory.csv" "$@"
} | tee "$out/table.txt"

if command -v gnuplot >/dev/null && (( $(wc -l < "$out/memory.csv") > 1 )); then
  gnuplot -e "csv='$out/memory.csv'; png='$out/broker-memory.png'" "$here/memory.gp"
  echo "plot: $out/broker-memory.png"
fi
