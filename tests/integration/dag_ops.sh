#!/usr/bin/env bash
# The consortium validator inside faiid, as an operator sees it
# (docs/consensus.md, "Operating"): faiid (DPDK net_ring0, the demo fleet)
# is validator 1 of 4 with three faii-validator processes on loopback.
#  - faiictl dag status: rounds advance, anchors commit, nothing refused;
#  - dag peers: three peers connected, their rounds and lag;
#  - dag submit (admin) of a transaction that then commits;
#  - dag vertex ROUND AUTHOR: a certified vertex read from the ledger, with
#    its digest, parents and quorum of signers; an absent one is not_found;
#  - dag evidence: none in an honest run;
#  - /metrics exposes faii_dag_* (promtool passes);
#  - SIGTERM stops faiid cleanly, its validator first; faii-ledger dump
#    shows the validator's records readably;
#  - its work summaries (1 s slices) are submitted to the validator, not
#    written to the ledger;
#  - a faiid without appliance.validators answers dag status with
#    "no validator configured".
#   dag_ops.sh FAIID FAIICTL FAII_VALIDATOR FAII_LEDGER CONFIG GEN_DEMO_CONFIG
set -uo pipefail
# The programs this test runs, checked against scripts/deps.txt.
# shellcheck source=../lib/require.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/require.sh"
require python3 promtool curl od awk
faiid=$1 faiictl=$2 validator=$3 faii_ledger=$4 demo=$5 gen_demo_config=$6
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# The demonstration configuration with its key files (tests/lib/demo_config.sh).
demo=$(bash "$(dirname "${BASH_SOURCE[0]}")/../lib/demo_config.sh" "$gen_demo_config" \
	"$demo" "$tmp") || exit 1

fail=0
check() { # description, condition-status
	if [ "$2" -eq 0 ]; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi
}
# faiid (validator id 1) and three faii-validators (tests/lib/faiid_consortium.sh).
# shellcheck source=../lib/faiid_consortium.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/faiid_consortium.sh"
consortium_setup "$tmp" "$validator"
metrics_port=${ports[4]}
consortium_start_validators "" --status-ms 500
consortium_faiid_config "$demo" "" >"$tmp/faiid.yaml"
# 1 s slices: its work summaries reach the validator while the test runs.
sed -i 's/^  slice_ms: .*/  slice_ms: 1000/' "$tmp/faiid.yaml"
grep -q "^  slice_ms: 1000" "$tmp/faiid.yaml" || echo "FAIL: no settlement.slice_ms to set"

sock=$tmp/faii.sock
ctl() { "$faiictl" --socket "$sock" --timeout 10 "$@"; }
consortium_start_faiid "$faiid" faii-dag

# Bounded wait (60 s) for committed anchors; a faiid that died ends it.
status_field() { # name: from dag status --json
	ctl --json dag status 2>/dev/null |
		python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])" 2>/dev/null
}
committed=0
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ] && kill -0 "$faiid_pid" 2>/dev/null; do
	committed=$(status_field committed_vertices)
	[ "${committed:-0}" -ge 40 ] && break
	sleep 0.2
done
consortium_faiid_alive
check "faiid's validator commits (${committed:-none} vertices)" \
	$([ "${committed:-0}" -ge 40 ]; echo $?)
check "faiid says it runs validator 0 of 4" \
	$(grep -q "^faiid: validator 0 of 4 (id 1, epoch 1)" "$tmp/faiid.out"; echo $?)

ctl dag status >"$tmp/status.txt"
cat "$tmp/status.txt"
ctl --json dag status >"$tmp/status1.json"
sleep 1
ctl --json dag status >"$tmp/status2.json"
python3 - "$tmp/status1.json" "$tmp/status2.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
bad = 0
def need(what, ok):
    global bad
    print(("ok: " if ok else "FAIL: ") + what)
    bad |= not ok
need(f"rounds advance ({a['round']} -> {b['round']})", b["round"] > a["round"])
need(f"anchors commit ({a['last_committed_anchor']} -> {b['last_committed_anchor']})",
     b["last_committed_anchor"] > a["last_committed_anchor"] >= 2)
need("status names epoch 1, validator 0 (id 1) of 4",
     (b["epoch"], b["self"], b["self_id"], b["validators"]) == (1, 0, 1, 4))
need("round_low <= round_inserted <= round_seen",
     b["round_low"] <= b["round_inserted"] <= b["round_seen"])
# Catch-up after a late start refuses outside_window and stale_vote; an
# honest committee gives no other refusal.
lies = ("malformed", "wrong_epoch", "not_member", "bad_signature", "bad_parents",
        "payload_digest", "bad_transaction", "equivocation")
need("no refusal that only a faulty peer causes", all(b["refused"][r] == 0 for r in lies))
need(f"commit latency measured ({b['commit_latency']['count']} own vertices)",
     b["commit_latency"]["count"] > 0 and b["commit_latency"]["p50_ms"] > 0)
need("journal flushes and no failure", b["flushes"] > 0 and b["failed"] is False)
need("held bytes and certificates counted", b["held_bytes"] > 0 and
     b["certificates_formed"] > 0 and b["certificates_accepted"] > b["certificates_formed"])
sys.exit(bad)
PY
check "dag status values" $?

ctl dag peers
ctl --json dag peers >"$tmp/peers.json"
python3 - "$tmp/peers.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
peers = r["peers"]
ok = (len(peers) == 4 and [p["id"] for p in peers] == [1, 2, 3, 4]
      and all(p["connected"] for p in peers) and peers[0]["self"]
      and all(p["links"] >= 1 and p["bytes_received"] > 0 for p in peers[1:])
      and all(p["round"] > 0 and p["lag_rounds"] <= p["round"] for p in peers))
print("peers:", [(p["id"], p["round"], p["lag_rounds"]) for p in peers])
sys.exit(0 if ok else 1)
PY
check "dag peers: 4 validators by id, 3 connected peers with traffic and rounds" $?

# An operator transaction commits (admin: this test runs as root).
before=$(status_field committed_transactions)
ctl --json dag submit 6661696920646167206f7073 >"$tmp/submit.json"
check "dag submit queues 12 bytes" $(grep -q '"bytes": *12' "$tmp/submit.json"; echo $?)
after=$before
deadline=$((SECONDS + 20))
while [ $SECONDS -lt $deadline ]; do
	after=$(status_field committed_transactions)
	[ "${after:-0}" -gt "${before:-0}" ] && break
	sleep 0.1
done
check "the submitted transaction commits ($before -> $after)" \
	$([ "${after:-0}" -gt "${before:-0}" ]; echo $?)
ctl dag submit zz >/dev/null 2>"$tmp/submit.err"
check "dag submit of bad hex is invalid_argument" \
	$(grep -q "invalid_argument" "$tmp/submit.err"; echo $?)

ctl dag vertex 2 1
ctl --json dag vertex 2 1 >"$tmp/vertex.json"
python3 - "$tmp/vertex.json" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
ok = (v["round"] == 2 and v["author"] == 1 and v["author_id"] == 2 and len(v["digest"]) == 64
      and len(v["parents"]) >= 3 and len(v["signers"]) >= 3 and v["tx_count"] >= 0
      and set(v["parents"]) <= {0, 1, 2, 3})
sys.exit(0 if ok else 1)
PY
check "dag vertex 2 1: round, author, digest, >= 3 parents and signers" $?
ctl dag vertex 999999999 0 >/dev/null 2>"$tmp/vertex.err"
check "a vertex not in the ledger is not_found" $(grep -q "not_found" "$tmp/vertex.err"; echo $?)
ctl dag vertex 2 4 >/dev/null 2>"$tmp/vertex4.err"
check "author 4 of 4 validators is out_of_range" \
	$(grep -q "out_of_range" "$tmp/vertex4.err"; echo $?)

ctl --json dag evidence >"$tmp/evidence.json"
check "dag evidence: none in an honest run" \
	$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); sys.exit(r['found'] != 0 or r['proofs'] != [])" \
		"$tmp/evidence.json"; echo $?)

curl -s -m 5 "http://127.0.0.1:$metrics_port/metrics" >"$tmp/metrics.txt"
prc=0
promtool check metrics <"$tmp/metrics.txt" >"$tmp/promtool" 2>&1 || prc=$?
cat "$tmp/promtool"
check "promtool check metrics passes with faii_dag_* (status $prc)" $prc
for series in 'faii_dag_round ' 'faii_dag_committed_vertices_total ' \
	'faii_dag_refused_total{reason="bad_signature"} 0' 'faii_dag_peer_connected{peer="2"} 1' \
	'faii_dag_peer_lag_rounds{peer="4"}' 'faii_dag_commit_latency_seconds_count ' \
	'faii_dag_certificates_formed_total ' 'faii_dag_held_bytes '; do
	check "metrics show $series" $(grep -qF "$series" "$tmp/metrics.txt"; echo $?)
done
# With a validator, WORK_SUMMARY transactions go to it, not to the ledger.
check "work summaries are submitted to the validator" \
	$(grep -qE '^faii_work_summaries_sent_total [1-9]' "$tmp/metrics.txt"; echo $?)
anchor=$(awk '/^faii_dag_last_committed_anchor_round /{print $2}' "$tmp/metrics.txt")
check "faii_dag_last_committed_anchor_round is past 2 ($anchor)" \
	$(python3 -c "import sys; sys.exit(not float('${anchor:-0}') >= 2)"; echo $?)

kill -TERM "$faiid_pid"
rc=0
wait "$faiid_pid" || rc=$?
cat "$tmp/faiid.out"
check "faiid exits 0 after SIGTERM (got $rc)" $([ "$rc" -eq 0 ]; echo $?)
check "and stopped cleanly" $(grep -q "stopped cleanly" "$tmp/faiid.out"; echo $?)

"$faii_ledger" dump "$tmp/v1/ledger" >"$tmp/dump.txt" 2>&1
check "faii-ledger dump reads faiid's ledger" $?
check "no work_summary records in the ledger of an appliance with a validator" \
	$(! grep -q "type work_summary" "$tmp/dump.txt"; echo $?)
grep -m 3 "dag.certified" "$tmp/dump.txt"
grep -m 2 "dag.commit" "$tmp/dump.txt"
for kind in own_vertex vote certified commit; do
	check "dump shows dag.$kind records" $(grep -q "dag.$kind" "$tmp/dump.txt"; echo $?)
done
check "a certified vertex shows round, author, digest, parents, tx and signers" \
	$(grep -Eq "dag.certified .*round=2 author=1 digest=[0-9a-f]{16} parents=[0-3,]+ tx=[0-9]+ bytes=[0-9]+ signers=[0-3,]+" \
		"$tmp/dump.txt"; echo $?)
check "a commit shows the anchor's round, author and sequence" \
	$(grep -Eq "dag.commit .*anchor_round=[0-9]+ author=[0-3] sequence=[0-9]+" \
		"$tmp/dump.txt"; echo $?)

# A faiid without validators answers the dag commands with a clear error.
"$faiid" -l 0-1 --no-huge -m 512 --no-pci --file-prefix "faii-dag0-$$" --vdev net_ring0 \
	--log-level lib.eal:warning -- --config "$demo" --ledger-dir "$tmp/plain" \
	--metrics-port "$metrics_port" --control-socket "$tmp/plain.sock" >"$tmp/plain.out" 2>&1 &
plain_pid=$!
pids+=("$plain_pid")
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ] && [ ! -S "$tmp/plain.sock" ]; do sleep 0.2; done
"$faiictl" --socket "$tmp/plain.sock" dag status >/dev/null 2>"$tmp/plain.err"
src=$?
cat "$tmp/plain.err"
check "without validators: dag status exits 1 with unavailable: no validator configured" \
	$([ "$src" -eq 1 ] && grep -q "unavailable: no validator configured" "$tmp/plain.err"; echo $?)
curl -s -m 5 "http://127.0.0.1:$metrics_port/metrics" >"$tmp/plain_metrics.txt"
check "and exports no faii_dag_* series" $(! grep -q "^faii_dag_" "$tmp/plain_metrics.txt"; echo $?)
kill -TERM "$plain_pid"
wait "$plain_pid"
check "and stops cleanly" $?
exit $fail
