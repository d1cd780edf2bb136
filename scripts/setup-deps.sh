#!/usr/bin/env bash
# Installs the Debian 12 packages that faii needs to build, run and test, and
# nothing else: the [install] packages of scripts/deps.txt, the one list (the
# tests check the programs they run against it, tests/lib/require.sh).
# Idempotent: packages already present are not touched, and apt is not called
# at all when nothing is missing. Ends by checking that every program the list
# names is there.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deps.sh
. "$here/deps.sh"
deps_load
packages=("${DEPS_INSTALL[@]}")

# Every program of the list, [essential] packages included, is on the PATH
# (root's PATH: bpftool, ip and sysctl live in /usr/sbin).
check_programs() {
	local prog absent=()
	for prog in "${!DEPS_PACKAGE[@]}"; do
		PATH=$PATH:/usr/sbin:/sbin command -v "$prog" >/dev/null 2>&1 ||
			absent+=("$prog (${DEPS_PACKAGE[$prog]})")
	done
	if ((${#absent[@]})); then
		echo "setup-deps: programs missing after the install: ${absent[*]}" >&2
		return 1
	fi
}

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  check_programs
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
check_programs
