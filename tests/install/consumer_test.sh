#!/usr/bin/env bash
# An app of a user's, built against an installed punch both ways: `cmake --install` into a
# fresh prefix, then examples/ as a project of its own with find_package(punch CONFIG), and
# chat_sim.cpp with pkg-config; both chat_sim binaries must run (two NATed peers on the
# simulated network connect and chat). The installed text files must not name the build folder.
# Usage: consumer_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

cmake --install "$build" --prefix "$prefix" >/dev/null || fail "cmake --install failed"
for f in lib/libpunch.so lib/cmake/punch/punchConfig.cmake lib/pkgconfig/punch.pc include/punch/session.hpp \
         include/punch/plugins/builtin.hpp include/punch/plugins/sim/network.hpp bin/punch-broker bin/punch-peer; do
  [[ -e "$prefix/$f" ]] || fail "not installed: $f"
done
# Text files only: binaries carry the build folder in their debug information, as any build does.
if leaks=$(grep -rlI -- "$build" "$prefix"); then fail "installed files name the build folder: $leaks"; fi
"$prefix/bin/punch-broker" --version >/dev/null || fail "the installed punch-broker does not start"

# CMake: examples/ on its own.
cmake -S "$src/examples" -B "$work/cmake" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
  >/dev/null || fail "configuring examples/ against the installed package failed"
cmake --build "$work/cmake" --target chat_sim >/dev/null || fail "building chat_sim against the package failed"
"$work/cmake/chat_sim" >/dev/null || fail "chat_sim (CMake package) did not connect"

# pkg-config.
flags=$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs punch) || fail "pkg-config punch"
# shellcheck disable=SC2086
c++ "$src/examples/chat_sim.cpp" $flags -Wl,-rpath,"$prefix/lib" -o "$work/chat_sim_pc" ||
  fail "building chat_sim with pkg-config's flags failed"
"$work/chat_sim_pc" >/dev/null || fail "chat_sim (pkg-config) did not connect"
echo "PASS: installed to $prefix; examples built and ran through find_package and pkg-config"
