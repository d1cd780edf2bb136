#!/usr/bin/env bash
# faiid on DPDK's net_pcap virtual device: replays a pcap of known traffic
# through the real dataplane (EAL, ethdev, mempool, worker lcore, parser) and
# asserts that the final counters match what the pcap holds, by message type
# and by drop reason; then that SIGTERM stops the daemon cleanly and that
# its audit log (the ledger store) holds the start and the stop with the same
# counters, intact.
#   faiid_pcap.sh FAIID MAKE_TRAFFIC CONFIG FAII_LEDGER
set -euo pipefail
# The programs this test runs, checked against scripts/deps.txt.
# shellcheck source=../lib/require.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/require.sh"
require python3 awk
faiid=$1 make_traffic=$2 config=$3 faii_ledger=$4 gen_demo_config=$5
tmp=$(mktemp -d)
trap 'kill -9 $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
# The demonstration configuration with its key files (tests/lib/demo_config.sh).
config=$(bash "$(dirname "${BASH_SOURCE[0]}")/../lib/demo_config.sh" "$gen_demo_config" \
	"$config" "$tmp")
pid=

"$make_traffic" "$tmp/traffic.pcap" "$tmp/expected_pipeline" >"$tmp/expected"

# Any free port: the default metrics port may be taken by another faiid.
metrics_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$faiid" -l 0-1 --no-huge -m 256 --no-pci --file-prefix "faii-pcap-$$" \
	--vdev "net_pcap0,rx_pcap=$tmp/traffic.pcap,tx_pcap=$tmp/tx.pcap" \
	--log-level lib.eal:warning -- \
	--config "$config" --ledger-dir "$tmp/ledger" --metrics-port "$metrics_port" \
	--control-socket "$tmp/ctl.sock" >"$tmp/out" 2>&1 &
pid=$!

# Wait (bounded, 30 s) until the periodic counters show every packet.
want=$(awk '{s += $2} END {print s}' "$tmp/expected")
for _ in $(seq 1 150); do
	kill -0 $pid 2>/dev/null || break
	grep -q "^faiid: counters .* rx $want pkts" "$tmp/out" && break
	sleep 0.2
done
kill -TERM $pid
rc=0
wait $pid || rc=$?
pid=
cat "$tmp/out"

fail=0
check() { # description, condition-status
	if [ "$2" -eq 0 ]; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi
}
final=$(grep '^faiid: final' "$tmp/out" || true)
check "exit status 0 after SIGTERM (got $rc)" $([ "$rc" -eq 0 ]; echo $?)
check "stopped cleanly" $(grep -q 'stopped cleanly' "$tmp/out"; echo $?)
check "rx $want packets" $(grep -q " rx $want pkts" <<<"$final"; echo $?)
while read -r name count; do
	case $name in
	task | result | heartbeat | attest | register) pattern=" $name $count " ;;
	*) pattern=" $name=$count" ;;
	esac
	check "$name = $count" $(grep -q -- "$pattern" <<<"$final "; echo $?)
done <"$tmp/expected"

# Authenticated: every refusal counted by name after parsing (the pipeline
# and auth lines of the final counters).
final_block=$(sed -n '/^faiid: final/,/^  routing:/p' "$tmp/out")
check "auth: version 2 only" $(grep -q '^  auth: version 2 only' <<<"$final_block"; echo $?)
while read -r name count; do
	check "pipeline $name = $count" $(grep -q -- " $name=$count\b" <<<"$final_block"; echo $?)
done <"$tmp/expected_pipeline"

# The audit log: start then stop, with the final counters, verified offline.
"$faii_ledger" verify "$tmp/ledger" >"$tmp/verify" 2>&1 || true
"$faii_ledger" dump "$tmp/ledger" >"$tmp/dump" 2>&1 || true
cat "$tmp/verify" "$tmp/dump"
task=$(awk '$1 == "task" {print $2}' "$tmp/expected")
dropped=$(awk '$1 !~ /^(task|result|heartbeat|attest|register)$/ {s += $2} END {print s}' \
	"$tmp/expected")
check "ledger intact" $(grep -q '^intact:' "$tmp/verify"; echo $?)
check "ledger records the start" $(grep -q '^seq 1 type appliance_start .* nodes 240 ' "$tmp/dump"; echo $?)
# Work summaries (one per settlement slice) may come between the two; the
# stop is the last record.
check "ledger records the stop with the counters" \
	$(tail -n 1 "$tmp/dump" | grep -q "^seq [0-9]* type appliance_stop .* rx $want task $task dropped $dropped\$"; echo $?)
exit $fail
