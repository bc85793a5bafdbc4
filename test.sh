#!/usr/bin/env bash
# Runs every test: the full CTest suite (unit, sim and real rings, the NAT lab when root and
# nftables are there), the same suite built by clang under AddressSanitizer +
# UndefinedBehaviorSanitizer, and each libFuzzer target from that build for PUNCH_FUZZ_SECONDS
# (default 15: a smoke run for every change; a long hunt is PUNCH_FUZZ_SECONDS=3600 ./test.sh).
# Usage: ./test.sh [--quick]   (--quick: the plain suite only)
set -euo pipefail
cd "$(dirname "$0")"
quick=0
[[ "${1:-}" == "--quick" ]] && quick=1
jobs=$(nproc)
# Tests run two per core: most of them wait on timers (the simulated network runs in real time),
# so a core idles under one; the CPU-bound ones (benchmarks, the NAT lab) are RUN_SERIAL.
test_jobs=$(( jobs * 2 ))
fuzz_seconds=${PUNCH_FUZZ_SECONDS:-15}

# Each stage says how long the one before it took (CI time is a budget: docs/performance.md).
started=$SECONDS; stage_started=-1
step() {
  if [[ $stage_started -ge 0 ]]; then printf '(%ds)\n' $(( SECONDS - stage_started )); fi
  stage_started=$SECONDS
  printf '\n=== %s ===\n' "$*"
}
finish() { printf '(%ds)\n\ntest.sh: every stage passed in %ds\n' $(( SECONDS - stage_started )) $(( SECONDS - started )); }

step "build and test (RelWithDebInfo)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPUNCH_WERROR=ON >/dev/null
cmake --build build
ctest --test-dir build --output-on-failure -j "$test_jobs"
if [[ $quick -eq 1 ]]; then finish; exit 0; fi

# One clang build serves the sanitizer pass and the fuzzers (PUNCH_FUZZ instruments every object
# for libFuzzer; tests link without libFuzzer's main): one build instead of two, and a second
# compiler over the whole tree.
step "build with clang (ASan + UBSan + fuzzer instrumentation) and test under the sanitizers"
CXX=clang++ cmake -S . -B build-san -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPUNCH_SANITIZE=ON -DPUNCH_FUZZ=ON >/dev/null
cmake --build build-san
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-san --output-on-failure -j "$test_jobs" -LE nosan

step "fuzz each decoder for ${fuzz_seconds}s, ${jobs} at a time"
# Each fuzzer is one process on one core: they run side by side, each with its own copy of its
# seed corpus and its own log, printed in order when all have ended.
fuzz_dir=$(mktemp -d)
trap 'rm -rf "$fuzz_dir"' EXIT
fuzz_one() {
  local f=$1 name corpus
  name=$(basename "$f")
  corpus="$fuzz_dir/$name.corpus"
  mkdir -p "$corpus"
  cp -r fuzz/corpus/"${name#fuzz_}"/. "$corpus"/ 2>/dev/null || true
  local rc=0
  "$f" -max_total_time="$fuzz_seconds" -print_final_stats=1 "$corpus" >"$fuzz_dir/$name.log" 2>&1 || rc=$?
  echo "$rc" >"$fuzz_dir/$name.rc"
}
fuzzers=()
# fuzz_*_replay: the seeds replayed without libFuzzer (a CTest test), not a fuzzer.
for f in build-san/fuzz/fuzz_*; do [[ -x "$f" && "$f" != *_replay ]] && fuzzers+=("$f"); done
for f in "${fuzzers[@]}"; do
  while (( $(jobs -rp | wc -l) >= jobs )); do wait -n || true; done
  fuzz_one "$f" &
done
wait
failed=0
for f in "${fuzzers[@]}"; do
  name=$(basename "$f")
  rc=$(cat "$fuzz_dir/$name.rc" 2>/dev/null || echo "no exit code")
  echo "fuzzing $name for ${fuzz_seconds}s: exit $rc"
  if [[ $rc != 0 ]]; then failed=1; cat "$fuzz_dir/$name.log"; else tail -n 3 "$fuzz_dir/$name.log"; fi
done
(( failed == 0 )) || { echo "fuzz: a fuzzer found a crash (its log is above)"; exit 1; }
echo "fuzz: all ${#fuzzers[@]} targets ran ${fuzz_seconds}s without a crash"
finish
