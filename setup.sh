#!/usr/bin/env bash
# Sets punch up on a fresh Debian 12 machine: installs every package it needs with apt-get,
# configures and builds. With --demo it then runs the main job (a broker and two peers
# behind NATs connecting). Usage: ./setup.sh [--demo] [--no-install] [--build-dir DIR]
set -euo pipefail
cd "$(dirname "$0")"

demo=0; install=1; build_dir=build
while [[ $# -gt 0 ]]; do
  case "$1" in
    --demo) demo=1 ;;
    --no-install) install=0 ;;
    --build-dir) build_dir="$2"; shift ;;
    -h|--help) sed -n '2,4p' "$0" | sed 's/^# //'; exit 0 ;;
    *) echo "setup.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

packages=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev libboost-program-options1.81-dev libboost-test1.81-dev
  libsodium-dev
  zlib1g-dev                        # zlib's crc32: STUN FINGERPRINT
  clang libclang-rt-14-dev          # libFuzzer and sanitizers
  nftables iproute2 conntrack       # the NAT lab (network namespaces + kernel NAT; conntrack -F: a NAT "reboots")
  coturn stun-client                # real STUN client/server for interop tests and benchmarks
  tshark gnuplot-nox python3 procps
  redis-server libhiredis-dev       # brokers sharing a registry (punch-broker --redis) and its tests
  prometheus                        # promtool checks the servers' /metrics
  systemd strace                    # systemd-analyze checks the servers' units; strace runs the servers against their filters
  libusrsctp-dev                    # reliable streams: SCTP over a connection's encrypted frames
  nettle-dev                        # TURN's long-term credentials (HMAC-SHA1, MD5) and REST credentials
  libnatpmp-dev libminiupnpc-dev    # port mapping on home routers: NAT-PMP and UPnP IGD
  miniupnpd-nftables                # a real UPnP/NAT-PMP/PCP router for the NAT lab
)

if [[ $install -eq 1 ]]; then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "setup.sh: run as root (apt-get needs it) or install sudo" >&2; exit 1; }
    sudo=sudo
  fi
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    echo "setup.sh: installing ${missing[*]}"
    $sudo apt-get update -qq
    # coturn's and tshark's postinst ask questions; answer with the defaults.
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

# The same configuration as test.sh's (-DPUNCH_WERROR=ON included), so that the README's second
# command reuses this build instead of compiling everything again. PUNCH_CMAKE_ARGS adds options.
# shellcheck disable=SC2086
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPUNCH_WERROR=ON ${PUNCH_CMAKE_ARGS:-}
cmake --build "$build_dir"

if [[ $demo -eq 1 ]]; then
  "$build_dir"/apps/demo/punch-demo
fi
