#!/usr/bin/env bash
# One source of truth for the residency policy: the kernel program is loaded
# and pinned with faii-residency on a private bpffs; faiid runs with
# appliance.residency_pin_dir pointing there. An operator's `residency set`
# on faiid's control socket changes the class in faiid's dataplane program
# AND in the pinned kernel maps (an atomic sync); `residency list`, faiid's
# log and the pinned class map agree. Needs root (bpffs, BPF).
#   residency_sync.sh FAIID FAIICTL FAII_RESIDENCY CONFIG
set -euo pipefail
# The programs this test runs, checked against scripts/deps.txt.
# shellcheck source=../lib/require.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/require.sh"
require mount umount bpftool python3
faiid=$1 faiictl=$2 tool=$3 config=$4 gen_demo_config=$5
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
	umount "$tmp/bpffs" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
# The demonstration configuration with its key files (tests/lib/demo_config.sh).
config=$(bash "$(dirname "${BASH_SOURCE[0]}")/../lib/demo_config.sh" "$gen_demo_config" \
	"$config" "$tmp")
fail=0
check() { # description, condition-status
	if [ "$2" -eq 0 ]; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi
}
mkdir -p "$tmp/bpffs"
mount -t bpf bpf "$tmp/bpffs"
sed "s|^  ledger_dir: .*|  ledger_dir: $tmp/ledger\n  residency_pin_dir: $tmp/bpffs/faii|" \
	"$config" >"$tmp/config.yaml"
"$tool" load --config "$tmp/config.yaml" >"$tmp/load" 2>&1
cat "$tmp/load"

# The pinned class map's allowed bitmap of a class, as a decimal number.
allowed_of() {
	bpftool -j map lookup pinned "$tmp/bpffs/faii/faii_res_classes" key "$1" 0 0 0 |
		python3 -c 'import json,sys; v=json.load(sys.stdin)["value"]
print(int.from_bytes(bytes(int(b, 16) for b in v[:8]), "little"))'
}
before=$(allowed_of 2)
check "class 2 (CH-only) is CH alone in the kernel map before (got $before)" \
	$([ "$before" = 1 ]; echo $?)

sock=$tmp/ctl.sock
"$faiid" -l 0-1 --no-huge -m 512 --no-pci --file-prefix "faii-rsync-$$" --vdev net_ring0 \
	--log-level lib.eal:warning -- --config "$tmp/config.yaml" --control-socket "$sock" \
	--metrics-port "$((20000 + $$ % 20000))" >"$tmp/out" 2>&1 &
pid=$!
for _ in $(seq 1 150); do
	grep -q "running with" "$tmp/out" && break
	kill -0 $pid 2>/dev/null || break
	sleep 0.2
done

"$faiictl" --socket "$sock" residency set 2 CH LI >"$tmp/set" 2>&1 || true
cat "$tmp/set"
for _ in $(seq 1 100); do
	grep -q "kernel program synced" "$tmp/out" && break
	sleep 0.1
done
check "faiid synced the kernel program" $(grep -q "kernel program synced" "$tmp/out"; echo $?)
after=$(allowed_of 2)
check "class 2 is CH and LI in the kernel map after (got $after)" $([ "$after" = 3 ]; echo $?)
"$faiictl" --socket "$sock" --json residency list >"$tmp/list"
check "faiid's own view says the same" \
	$(python3 -c 'import json,sys; c=[x for x in json.load(open(sys.argv[1]))["classes"] if x["id"]==2][0]
sys.exit(0 if c["allow"]==["CH","LI"] else 1)' "$tmp/list"; echo $?)

kill -TERM $pid
rc=0
wait $pid || rc=$?
pid=
cat "$tmp/out"
check "faiid stopped cleanly (status $rc)" $([ "$rc" -eq 0 ]; echo $?)
"$tool" unload --config "$tmp/config.yaml" >/dev/null 2>&1 || true
exit $fail
