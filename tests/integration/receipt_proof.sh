#!/usr/bin/env bash
# Routing receipts end to end (docs/settlement.md, "Work summaries and
# receipts"): faiid with the demo fleet (1 s slices) and faii-sim's clients
# and nodes over net_memif, two processes, as scripts/run.sh runs them.
#  - faiictl receipt proof TASK_ID --json for a task the simulator sent
#    returns its receipt, slice, leaf index, path and root;
#  - faiictl receipt verify checks that file offline (faiid stopped first),
#    and refuses it with one changed byte of the leaf, of the path, of the
#    root, or with another index;
#  - a task of the open slice is not_found with "open slice";
#  - faii-sim's nodes send signed ATTESTs (--attest-every 5) that faiid
#    accepts, none refused;
#  - the ledger holds work_summary records (no validator configured) whose
#    receipt roots include the proven root; /metrics counts receipts and
#    summaries.
#   receipt_proof.sh FAIID FAII_SIM FAIICTL FAII_LEDGER CONFIG GEN_DEMO_CONFIG
set -uo pipefail
# shellcheck source=../lib/require.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/require.sh"
require python3 curl
faiid=$1 sim=$2 ctl=$3 faii_ledger=$4 demo=$5 gen_demo_config=$6
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
check() { # description, condition-status
	if [ "$2" -eq 0 ]; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi
}

demo=$(bash "$(dirname "${BASH_SOURCE[0]}")/../lib/demo_config.sh" "$gen_demo_config" \
	"$demo" "$tmp") || exit 1
metrics_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i -e "s|control_socket: .*|control_socket: $tmp/faii.sock|" \
	-e "s|ledger_dir: .*|ledger_dir: $tmp/ledger|" \
	-e "s|metrics_port: .*|metrics_port: $metrics_port|" \
	-e "s|slice_ms: .*|slice_ms: 1000|" "$demo"
grep -q "slice_ms: 1000" "$demo" || { echo "FAIL: no settlement.slice_ms in $demo"; exit 1; }

sock=$tmp/memif.sock
prefix=faii-receipt-$$
"$faiid" -l 0-1 --no-huge -m 512 --no-pci --file-prefix "$prefix" \
	--vdev "net_memif0,role=server,socket=$sock" --log-level lib.eal:warning -- \
	--config "$demo" >"$tmp/faiid.log" 2>&1 &
faiid_pid=$!
pids+=("$faiid_pid")
for _ in $(seq 1 150); do
	grep -q "running with" "$tmp/faiid.log" && break
	kill -0 "$faiid_pid" 2>/dev/null || break
	sleep 0.1
done
grep -q "running with" "$tmp/faiid.log"
check "faiid starts with settlement.slice_ms 1000" $?

"$sim" -l 0 --no-huge -m 256 --no-pci --file-prefix "$prefix-sim" \
	--vdev "net_memif0,role=client,socket=$sock" --log-level lib.eal:warning -- \
	--config "$demo" --duration 4 --rate 200 --wait-peer 15 --attest-every 5 \
	>"$tmp/sim.log" 2>&1 &
sim_pid=$!
pids+=("$sim_pid")
first=
for _ in $(seq 1 150); do
	first=$(sed -n 's/^faii-sim: task ids from \([0-9]*\)$/\1/p' "$tmp/sim.log")
	[ -n "$first" ] && break
	sleep 0.1
done
[ -n "$first" ]
check "the simulator names its first task id ($first)" $?

# A task sent early: its slice closes about a second later. Bounded wait.
task=$((first + 20))
got=1
for _ in $(seq 1 100); do
	"$ctl" --socket "$tmp/faii.sock" --json receipt proof "$task" >"$tmp/proof.json" \
		2>"$tmp/proof.err" && { got=0; break; }
	sleep 0.1
done
check "faiictl receipt proof $task answers" $got
[ $got -eq 0 ] || { cat "$tmp/proof.err"; tail -30 "$tmp/faiid.log"; }
python3 - "$tmp/proof.json" "$task" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
task = int(sys.argv[2])
r = p["receipt"]
assert p["task_id"] == task and r["task_id"] == task, p
assert 0 <= p["leaf_index"] < p["leaf_count"], p
assert len(p["leaf"]) == 256 and len(p["root"]) == 64, p
assert len(p["path"]) <= 22 and all(len(h) == 64 for h in p["path"]), p
assert r["verdict"] in ("agreed", "disagreed", "expired", "single"), r
assert 1 <= r["tier"] <= 4 and len(r["nodes"]) in (1, 3, 7), r
assert p["slice_end_ms"] % 1000 == 0 and p["slice"] == p["slice_end_ms"] // 1000 - 1, p
PY
check "the proof names the task, its slice, leaf index, path and root" $?

"$ctl" --socket "$tmp/faii.sock" receipt proof 999 >"$tmp/none.out" 2>&1
[ $? -eq 1 ] && grep -q "not_found" "$tmp/none.out"
check "an unknown task is not_found" $?

curl -s "http://127.0.0.1:$metrics_port/metrics" >"$tmp/metrics"
grep -qE '^faii_receipts_total [1-9]' "$tmp/metrics" &&
	grep -qE '^faii_work_summaries_total [1-9]' "$tmp/metrics" &&
	grep -qE '^faii_receipts_dropped_total\{reason="invalid"\} 0$' "$tmp/metrics" &&
	! grep -qE '^faii_receipts_dropped_total\{.*\} [1-9]' "$tmp/metrics"
check "/metrics counts receipts and summaries, none dropped" $?
grep -qE '^faii_slow_path_messages_total\{type="attest",outcome="accepted"\} [1-9]' \
	"$tmp/metrics" &&
	! grep -qE '^faii_slow_path_messages_total\{type="attest",outcome="(malformed|bad_signature|stale_sequence|stale_timestamp|unknown_node)"\} [1-9]' \
		"$tmp/metrics"
check "faiid accepts the simulator's signed attestations, refuses none" $?

# Stop both (the simulator after faiid, as run.sh does), then check offline.
for _ in $(seq 1 200); do
	grep -q "^faii-sim: summary" "$tmp/sim.log" && break
	sleep 0.1
done
kill -TERM "$faiid_pid"
wait "$faiid_pid"
check "faiid stops cleanly" $?
wait "$sim_pid" 2>/dev/null

"$ctl" receipt verify "$tmp/proof.json" >"$tmp/verify.out" 2>&1
check "faiictl receipt verify accepts the proof offline" $?
grep -q "verified" "$tmp/verify.out"
check "  and prints the verified receipt" $?

tamper() { # name, python expression changing p
	python3 - "$tmp/proof.json" "$tmp/bad.json" "$2" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
def flip(h, at=0):
    return h[:at] + format(int(h[at], 16) ^ 1, "x") + h[at + 1:]
exec(sys.argv[3])
json.dump(p, open(sys.argv[2], "w"))
PY
	"$ctl" receipt verify "$tmp/bad.json" >"$tmp/bad.out" 2>&1
	[ $? -eq 1 ] && grep -q "does not verify" "$tmp/bad.out"
	check "a proof with $1 is refused" $?
}
tamper "a changed latency in the leaf" 'p["leaf"] = flip(p["leaf"], 48)'
tamper "a changed root" 'p["root"] = flip(p["root"])'
tamper "another leaf index" 'p["leaf_index"] = (p["leaf_index"] + 1) % p["leaf_count"]; p["leaf_count"] = max(p["leaf_count"], 2)'
tamper "a changed sibling" 'p["path"] = [flip(h) for h in p["path"]] or ["00" * 32]'
tamper "a reading that is not the leaf's" 'p["receipt"]["tier"] = p["receipt"]["tier"] % 4 + 1'

"$faii_ledger" dump "$tmp/ledger" >"$tmp/dump" 2>&1
root=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["root"])' "$tmp/proof.json")
grep -q "work_summary" "$tmp/dump"
check "the ledger holds work_summary records" $?
grep -q "$root" "$tmp/dump"
check "  one of them carries the proven root" $?

exit $fail
