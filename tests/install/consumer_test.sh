#!/usr/bin/env bash
# A user's app built against an installed punch, both ways: `cmake --install` into a fresh
# prefix, then the installed examples (share/doc/punch/examples) as a project of their own with
# find_package(punch CONFIG), and chat.cpp with a plain compiler command and
# `pkg-config --cflags --libs punch`. Each build runs: chat_sim (CMake) connects two NATed peers
# on the simulated network; chat (pkg-config) registers at the installed punch-broker over UDP
# on loopback and is told that its peer is not there. So linking and RPATH are proven for the
# apps, the library and both builds. Nothing installed may name the build folder.
# To stay within its time (about 20 s of CPU), each example is compiled once, unoptimised, and
# the two builds run side by side.
# Usage: consumer_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

cmake --install "$build" --prefix "$prefix" >"$work/install.log" || fail "cmake --install failed: $(cat "$work/install.log")"
for f in include/punch/session.hpp include/punch/cluster.hpp include/punch/plugins/builtin.hpp \
         include/punch/plugins/udp.hpp include/punch/plugins/sim/network.hpp \
         lib/libpunch.so lib/libpunch_udp.a lib/libpunch_sim.a lib/libpunch_builtin.a \
         lib/cmake/punch/punchConfig.cmake lib/cmake/punch/punchConfigVersion.cmake lib/cmake/punch/punchTargets.cmake \
         lib/pkgconfig/punch.pc bin/punch-broker bin/punch-relay bin/punch-peer bin/punch-demo \
         lib/systemd/system/punch-broker.service lib/systemd/system/punch-relay.service \
         etc/default/punch-broker etc/default/punch-relay \
         share/doc/punch/writing-a-peer-app.md share/doc/punch/examples/CMakeLists.txt share/doc/punch/examples/chat_sim.cpp; do
  [[ -e "$prefix/$f" ]] || fail "not installed: $f"
done

# libpunch carries its ABI version: libpunch.so -> libpunch.so.0 -> libpunch.so.0.X.Y.
soname=$(readelf -d "$prefix/lib/libpunch.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ $soname == libpunch.so.0 ]] || fail "libpunch's SONAME is '$soname', expected libpunch.so.0"
[[ $(readlink "$prefix/lib/libpunch.so") == libpunch.so.0 ]] || fail "libpunch.so does not link to libpunch.so.0"
[[ $(readlink "$prefix/lib/libpunch.so.0") =~ ^libpunch\.so\.0\.[0-9]+\.[0-9]+$ ]] ||
  fail "libpunch.so.0 links to '$(readlink "$prefix/lib/libpunch.so.0")', not libpunch.so.0.X.Y"

# Nothing installed names the build folder: no text file, and no binary's run-time search
# path (binaries do name it in their debug information, as any build's do).
if leaks=$(grep -rlI -- "$build" "$prefix"); then fail "installed files name the build folder: $leaks"; fi
for app in punch-broker punch-relay punch-peer punch-demo; do
  runpath=$(readelf -d "$prefix/bin/$app" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')
  [[ $runpath == '$ORIGIN/../lib' ]] || fail "$app's RUNPATH is '$runpath', expected \$ORIGIN/../lib"
done
grep -q "^ExecStart=$prefix/bin/punch-broker " "$prefix/lib/systemd/system/punch-broker.service" ||
  fail "punch-broker.service does not start $prefix/bin/punch-broker"
# The installed app finds the installed libpunch through its RUNPATH alone.
version=$(env -u LD_LIBRARY_PATH "$prefix/bin/punch-broker" --version) || fail "the installed punch-broker does not start"
[[ $(ldd "$prefix/bin/punch-broker") == *"libpunch.so.0 => $prefix/bin/../lib/libpunch.so.0"* ]] ||
  fail "the installed punch-broker does not load the installed libpunch: $(ldd "$prefix/bin/punch-broker")"

# The two ways, side by side.
examples="$prefix/share/doc/punch/examples"
(
  cmake -S "$examples" -B "$work/cmake" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null &&
    cmake --build "$work/cmake" --target chat_sim >/dev/null
) >"$work/cmake.log" 2>&1 &
cmake_pid=$!
flags=$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs punch) || fail "pkg-config punch failed"
[[ $flags != *"$build"* ]] || fail "pkg-config's flags name the build folder: $flags"
# shellcheck disable=SC2086 # the flags are words
c++ "$examples/chat.cpp" $flags -Wl,-rpath,"$prefix/lib" -o "$work/chat" >"$work/pc.log" 2>&1 ||
  fail "building chat with pkg-config's flags failed: $(cat "$work/pc.log")"
wait "$cmake_pid" || fail "building examples/ against the CMake package failed: $(cat "$work/cmake.log")"

for exe in "$work/cmake/chat_sim" "$work/chat"; do
  [[ $(ldd "$exe") == *"libpunch.so.0 => $prefix/lib/libpunch.so.0"* ]] ||
    fail "$exe does not load the installed libpunch: $(ldd "$exe")"
done
out=$(env -u LD_LIBRARY_PATH "$work/cmake/chat_sim" 2>&1) || fail "chat_sim (CMake) did not connect: $out"

# chat against the installed broker: it registers, then learns that "nobody" is not registered.
exec 3< <(exec env -u LD_LIBRARY_PATH "$prefix/bin/punch-broker" --listen 127.0.0.1:0 2>&1)
broker_pid=$!
trap 'kill "$broker_pid" 2>/dev/null; rm -rf "$work"' EXIT
IFS= read -r -t 10 line <&3 || fail "the installed punch-broker printed nothing within 10 s"
port=$(sed -n 's/.*punch-broker listening on 127\.0\.0\.1:\([0-9][0-9]*\) .*/\1/p' <<<"$line")
[[ -n $port ]] || fail "the installed punch-broker's first line: $line"
rc=0
out=$(env -u LD_LIBRARY_PATH timeout 20 "$work/chat" "127.0.0.1:$port" alice nobody </dev/null 2>&1) || rc=$?
[[ $rc == 1 && $out == *"registered as alice"* && $out == *"start the other peer first"* ]] ||
  fail "chat (pkg-config) against the installed broker exited $rc: $out"
echo "PASS: $version installed to a fresh prefix; chat_sim (find_package) connected; chat (pkg-config) registered at the installed broker"
