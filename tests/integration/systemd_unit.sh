#!/usr/bin/env bash
# configs/faiid.service: `systemd-analyze verify` finds nothing to say about
# it (a warning fails too, since verify exits 0 on unknown keys), it keeps
# the directories, restart policy and capability set docs/deploy.md
# promises, its hardening scores at most 5.0 in `systemd-analyze security`,
# and the command line of ExecStart is one faiid accepts.
#   systemd_unit.sh FAIID SOURCE_ROOT
set -euo pipefail
# The programs this test runs, checked against scripts/deps.txt.
# shellcheck source=../lib/require.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/require.sh"
require systemd-analyze awk
faiid=$1 root=$2
unit=$root/configs/faiid.service
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail=0
check() { # description, condition-status
	if [ "$2" -eq 0 ]; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi
}

# verify needs ExecStart's binary to exist: point it at the built one.
sed "s|/usr/local/bin/faiid|$faiid|" "$unit" >"$tmp/faiid.service"
vrc=0
systemd-analyze verify "$tmp/faiid.service" >"$tmp/verify" 2>&1 || vrc=$?
cat "$tmp/verify"
check "systemd-analyze verify passes (status $vrc)" $vrc
check "and prints no warning" $([ ! -s "$tmp/verify" ]; echo $?)

# The check above would catch a typo: a misspelt key makes verify talk.
sed 's/^NoNewPrivileges=/NoNewPrivilegez=/' "$tmp/faiid.service" >"$tmp/typo.service"
systemd-analyze verify "$tmp/typo.service" >"$tmp/typo" 2>&1 || true
check "a misspelt key is reported (negative control)" \
	$(grep -q "Unknown key 'NoNewPrivilegez'" "$tmp/typo"; echo $?)

has() { # description, regex over the unit
	check "$1" $(grep -Eq "$2" "$unit"; echo $?)
}
has "Type=simple" '^Type=simple$'
has "RuntimeDirectory holds faii" '^RuntimeDirectory=(.* )?faii( |$)'
has "StateDirectory=faii for the ledger" '^StateDirectory=faii$'
has "Restart=on-failure" '^Restart=on-failure$'
has "RestartSec set" '^RestartSec=[0-9]+s?$'
has "start limit set" '^StartLimitBurst=[0-9]+$'
has "LimitMEMLOCK=infinity" '^LimitMEMLOCK=infinity$'
has "NoNewPrivileges=yes" '^NoNewPrivileges=yes$'
has "ProtectSystem=strict" '^ProtectSystem=strict$'
has "ProtectHome=yes" '^ProtectHome=yes$'
has "PrivateTmp=yes" '^PrivateTmp=yes$'
has "bpffs writable" '^ReadWritePaths=.*/sys/fs/bpf'
has "hugepages writable" '^ReadWritePaths=.*/dev/hugepages'
has "SystemCallArchitectures=native" '^SystemCallArchitectures=native$'
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr ' ' '\n' | sort | xargs)
check "capabilities are exactly IPC_LOCK NET_ADMIN NET_RAW SYS_ADMIN ($caps)" \
	$([ "$caps" = "CAP_IPC_LOCK CAP_NET_ADMIN CAP_NET_RAW CAP_SYS_ADMIN" ]; echo $?)
ambient=$(sed -n 's/^AmbientCapabilities=//p' "$unit" | tr ' ' '\n' | sort | xargs)
check "ambient capabilities are the bounding set" $([ "$ambient" = "$caps" ]; echo $?)

# systemd's own exposure score (0 best, 10 worst) for the hardening set.
systemd-analyze security --offline=true --no-pager "$tmp/faiid.service" >"$tmp/security" 2>&1 || true
score=$(sed -n 's/.*Overall exposure level for faiid.service: \([0-9.]*\).*/\1/p' "$tmp/security")
check "exposure score ${score:-missing} is at most 5.0" \
	$(awk -v s="${score:-99}" 'BEGIN {exit !(s <= 5.0)}'; echo $?)

# ExecStart's arguments are ones faiid takes: the same command line with the
# example configuration and --check validates it.
exec_line=$(sed -n 's/^ExecStart=//p' "$unit")
read -r -a words <<<"$exec_line"
args=()
for w in "${words[@]:1}"; do
	case $w in
	'$FAIID_EAL_ARGS') ;; # empty: the configuration's appliance.eal
	/etc/faii/appliance.yaml) args+=("$root/configs/appliance.example.yaml") ;;
	*) args+=("$w") ;;
	esac
done
crc=0
"$faiid" "${args[@]}" --check >"$tmp/check" 2>&1 || crc=$?
tail -n 1 "$tmp/check"
check "faiid accepts ExecStart's arguments (status $crc)" \
	$([ "$crc" -eq 0 ] && grep -q 'configuration valid' "$tmp/check"; echo $?)
exit $fail
