#!/usr/bin/env bash
# The Debian packages as apt would get them: cpack (the DEB generator, cmake/PunchPackage.cmake)
# into a fresh folder, then each .deb read with dpkg-deb: its files, its dependencies, its
# maintainer scripts and conffiles. No file is in two packages (dpkg would refuse to install
# both), and nothing in them names the build folder. About 15 s on 2 cores, most of it
# compressing and running dpkg-shlibdeps. SKIPPED where dpkg-deb or dpkg-shlibdeps is absent.
# Usage: packages_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
for tool in dpkg-deb dpkg-shlibdeps cpack readelf; do
  command -v "$tool" >/dev/null || { echo "SKIPPED: $tool is absent (Debian: apt-get install dpkg-dev cmake binutils)"; exit 0; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cpack --config "$build/CPackConfig.cmake" -B "$work" >"$work/cpack.log" 2>&1 || fail "cpack failed: $(cat "$work/cpack.log")"
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")-1
deb() { echo "$work/$1_${version}_$(dpkg --print-architecture).deb"; }
# Each package's file list, read once ("path" or "path -> target" a line).
mkdir "$work/lists"
files() {
  local list="$work/lists/$1"
  [[ -f $list ]] || dpkg-deb -c "$(deb "$1")" | awk '{ print $6 ($7 == "->" ? " -> " $8 : "") }' >"$list"
  cat "$list"
}
field() { dpkg-deb -f "$(deb "$1")" "$2"; }
# has PACKAGE LINE...: each LINE is exactly one of the package's files (a link as "path -> target").
has() {
  local p=$1 list
  shift
  list=$(files "$p")
  for f in "$@"; do grep -qxF -- "$f" <<<"$list" || fail "$p does not hold $f; it holds:"$'\n'"$list"; done
}
depends_on() {
  local p=$1 d
  shift
  for d in "$@"; do [[ ", $(field "$p" Depends), " == *", $d"[\ ,]* ]] || fail "$p does not depend on $d: $(field "$p" Depends)"; done
}

for p in libpunch0 libpunch-dev punch-broker punch-relay punch-tools; do [[ -f $(deb "$p") ]] || fail "cpack made no $p"; done

has libpunch0 "./usr/lib/libpunch.so.0 -> libpunch.so.0.1.0" ./usr/lib/libpunch.so.0.1.0
[[ $(files libpunch0 | grep -c '^\./usr/lib/.') == 2 ]] || fail "libpunch0 holds more than the library: $(files libpunch0)"
depends_on libpunch0 libc6 libsodium23 zlib1g libnettle8
[[ $(dpkg-deb -I "$(deb libpunch0)" shlibs) == "libpunch 0 libpunch0 (= $version)" ]] || fail "libpunch0's shlibs"
dpkg-deb -I "$(deb libpunch0)" postinst | grep -q ldconfig || fail "libpunch0's postinst does not run ldconfig"

has libpunch-dev ./usr/include/punch/session.hpp ./usr/include/punch/plugins/udp.hpp ./usr/include/punch/plugins/sim/network.hpp \
  "./usr/lib/libpunch.so -> libpunch.so.0" ./usr/lib/libpunch_udp.a ./usr/lib/libpunch_sim.a ./usr/lib/libpunch_builtin.a \
  ./usr/lib/cmake/punch/punchConfig.cmake ./usr/lib/pkgconfig/punch.pc \
  ./usr/share/doc/punch/deployment.md ./usr/share/doc/punch/examples/CMakeLists.txt ./usr/share/doc/punch/examples/chat.cpp
depends_on libpunch-dev "libpunch0 (= $version)" libboost1.81-dev

for server in broker relay; do
  p=punch-$server
  has "$p" "./usr/bin/$p" "./usr/lib/systemd/system/$p.service" "./etc/default/$p"
  depends_on "$p" "libpunch0 (= $version)" libboost-program-options1.81.0 libc6
  [[ $(dpkg-deb -I "$(deb "$p")" conffiles) == "/etc/default/$p" ]] || fail "$p's conffiles are not /etc/default/$p"
  for script in postinst prerm postrm; do
    dpkg-deb -I "$(deb "$p")" "$script" | grep -q "$p.service" || fail "$p's $script does not handle $p.service"
  done
done
has punch-tools ./usr/bin/punch-peer ./usr/bin/punch-demo
depends_on punch-tools "libpunch0 (= $version)"

# No file in two packages.
for p in libpunch0 libpunch-dev punch-broker punch-relay punch-tools; do files "$p" | grep -v '/$'; done | sort | uniq -d >"$work/both"
[[ ! -s "$work/both" ]] || fail "files in two packages: $(cat "$work/both")"

# The files as installed: the unit starts the packaged binary, and no path leads to the build.
mkdir "$work/root"
for p in libpunch0 libpunch-dev punch-broker punch-relay punch-tools; do dpkg-deb -x "$(deb "$p")" "$work/root"; done
grep -qx 'ExecStart=/usr/bin/punch-broker $PUNCH_BROKER_OPTS' "$work/root/usr/lib/systemd/system/punch-broker.service" ||
  fail "punch-broker.service does not start /usr/bin/punch-broker"
if leaks=$(grep -rl -- "$build" "$work/root"); then fail "packaged files name the build folder: $leaks"; fi
[[ $(readelf -d "$work/root/usr/bin/punch-broker" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p') == '$ORIGIN/../lib' ]] ||
  fail "the packaged punch-broker's RUNPATH is not \$ORIGIN/../lib"
echo "PASS: $(cd "$work" && ls -- *.deb | tr '\n' ' ')"
