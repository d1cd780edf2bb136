#!/usr/bin/env bash
# Installs the Debian 12 packages that faii needs to build, run and test, and
# nothing else. Idempotent: packages already present are not touched, and apt
# is not called at all when nothing is missing.
set -euo pipefail

packages=(
  # toolchain
  build-essential meson ninja-build pkg-config clang llvm libclang-rt-14-dev
  clang-format
  # dataplane and shared libraries (SPEC section 1)
  libdpdk-dev dpdk liburing-dev libisal-dev libjemalloc-dev libbpf-dev bpftool
  libelf-dev zlib1g-dev linux-libc-dev libsodium-dev libjansson-dev libyaml-dev
  libmicrohttpd-dev libpcap-dev libnuma-dev
  # benchmark baselines (perf/bench ledger)
  libsqlite3-dev liblmdb-dev
  # tests (prometheus for promtool; systemd for systemd-analyze verify)
  libcriterion-dev tshark iproute2 python3 curl prometheus systemd
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup-deps: installing ${missing[*]}"
sudo_cmd=()
if ((EUID != 0)); then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive

# The prometheus package is here for promtool only: its server must not start
# on a build or test machine. A policy-rc.d that refuses every start holds for
# the install (unless the machine already has one), then the unit is disabled.
policy=/usr/sbin/policy-rc.d
own_policy=false
if [[ " ${missing[*]} " == *" prometheus "* && ! -e $policy ]]; then
  printf '#!/bin/sh\n# setup-deps.sh: no service starts during this install\nexit 101\n' |
    "${sudo_cmd[@]}" tee "$policy" >/dev/null
  "${sudo_cmd[@]}" chmod 755 "$policy"
  own_policy=true
fi
cleanup() { if $own_policy; then "${sudo_cmd[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT

"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

if [[ " ${missing[*]} " == *" prometheus "* ]]; then
  if [ -d /run/systemd/system ]; then
    "${sudo_cmd[@]}" systemctl disable --now prometheus.service || true
  else
    # No systemd running (containers): disabling works on the unit files.
    "${sudo_cmd[@]}" systemctl disable prometheus.service >/dev/null 2>&1 || true
  fi
fi
