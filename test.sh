#!/usr/bin/env bash
# Runs every test: the full CTest suite (unit, sim and real rings, the NAT lab when root and
# nftables are there), the same suite built by clang under AddressSanitizer +
# UndefinedBehaviorSanitizer, and each libFuzzer target from that build for PUNCH_FUZZ_SECONDS
# (default 30).
# Usage: ./test.sh [--quick]   (--quick: the plain suite only)
set -euo pipefail
cd "$(dirname "$0")"
quick=0
[[ "${1:-}" == "--quick" ]] && quick=1
jobs=$(nproc)
# Tests run two per core: most of them wait on timers (the simulated network runs in real time),
# so a core idles under one; the CPU-bound ones (benchmarks, the NAT lab) are RUN_SERIAL.
test_jobs=$(( jobs * 2 ))
fuzz_seconds=${PUNCH_FUZZ_SECONDS:-30}

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

step "fuzz each decoder for ${fuzz_seconds}s"
for f in build-san/fuzz/fuzz_*; do
  [[ -x "$f" ]] || continue
  name=$(basename "$f")
  corpus=$(mktemp -d)
  cp -r fuzz/corpus/"${name#fuzz_}"/. "$corpus"/ 2>/dev/null || true
  echo "fuzzing $name for ${fuzz_seconds}s"
  "$f" -max_total_time="$fuzz_seconds" -print_final_stats=1 "$corpus" 2>&1 | tail -n 3
  rm -rf "$corpus"
done
echo "fuzz: all targets ran ${fuzz_seconds}s without a crash"
finish
