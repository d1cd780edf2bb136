#!/usr/bin/env bash
# The residency audit log end to end: the real residency BPF program, loaded
# with its maps pinned on a private bpffs, refuses tasks to a node outside
# their class (BPF_PROG_TEST_RUN); faiid, pointed at the pins, moves the
# refusals from the ring buffer into its ledger; faii-ledger shows them,
# intact, between the start and the stop records.
#   residency_audit.sh FAIID INJECT BPF_OBJECT CONFIG FAII_LEDGER
set -euo pipefail
# The programs this test runs, checked against scripts/deps.txt.
# shellcheck source=../lib/require.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/require.sh"
require mount umount python3
faiid=$1 inject=$2 object=$3 config=$4 faii_ledger=$5 gen_demo_config=$6
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
mkdir -p "$tmp/bpffs"
mount -t bpf bpf "$tmp/bpffs"

forbidden=5 allowed=3
"$inject" "$object" "$tmp/bpffs" $forbidden $allowed >"$tmp/expected"

sed "s|^  ledger_dir: .*|  ledger_dir: $tmp/ledger\n  residency_pin_dir: $tmp/bpffs|" \
	"$config" >"$tmp/config.yaml"
# Any free port: the default metrics port may be taken by another faiid.
metrics_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$faiid" -l 0-1 --no-huge -m 256 --no-pci --file-prefix "faii-res-$$" --vdev net_ring0 \
	--log-level lib.eal:warning -- --config "$tmp/config.yaml" --metrics-port "$metrics_port" \
	--control-socket "$tmp/ctl.sock" >"$tmp/out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
	grep -q "running with" "$tmp/out" && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
sleep 0.5
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
cat "$tmp/out"
"$faii_ledger" dump "$tmp/ledger" >"$tmp/dump" 2>&1 || true
"$faii_ledger" verify "$tmp/ledger" >"$tmp/verify" 2>&1 || true
cat "$tmp/dump" "$tmp/verify"

fail=0
check() { if [ "$2" -eq 0 ]; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }
check "faiid stopped cleanly (status $rc)" $([ "$rc" -eq 0 ] && grep -q 'stopped cleanly' "$tmp/out"; echo $?)
check "reader found the pinned ring buffer" $(grep -q 'recording refusals from' "$tmp/out"; echo $?)
check "$forbidden refusals recorded" $(grep -q "residency audit: $forbidden refusals recorded, 0 malformed, 0 failed" "$tmp/out"; echo $?)
check "ledger holds $forbidden residency_violation records" \
	$([ "$(grep -c 'type residency_violation' "$tmp/dump")" -eq "$forbidden" ]; echo $?)
check "each names the task, the US node and the reason" \
	$([ "$(grep -c 'type residency_violation .* node 7 class 2 jurisdiction 1 reason drop_forbidden$' "$tmp/dump")" -eq "$forbidden" ]; echo $?)
check "start first, stop last" \
	$(head -1 "$tmp/dump" | grep -q appliance_start && tail -1 "$tmp/dump" | grep -q appliance_stop; echo $?)
check "ledger intact" $(grep -q '^intact:' "$tmp/verify"; echo $?)
exit $fail
