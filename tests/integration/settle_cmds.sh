#!/usr/bin/env bash
# The operator's settlement commands on a running consortium
# (docs/settlement.md, "Operating"; docs/control.md): faiid is validator 0
# of 4 with three faii-validator processes; the validators without a control
# socket vote through their tests-only --submit-file.
#  - reputation list/show: the registered nodes once observed;
#  - gov params: the genesis values and the step range; gov propose through
#    faiictl, voted by faiid (gov vote) and by validators 1-3: adopted, and in
#    force from its epoch, not before; a change beyond the step cap is refused
#    by faiictl (step_cap_exceeded) and, submitted anyway, by every
#    validator's settlement (refused.governance);
#  - slash list/show/nodes/vote: a replica-disagreement proposal, disputed by
#    the accused (node-signed), upheld by 2f + 1 and executed: burned, slashed;
#  - carbon: a node-signed meter reading mints a certificate, retired
#    against the node's energy when its epoch settles;
#  - calibrate --input FILE: a proposal from synthetic observations; without
#    --input, the window of the ledger's settled epochs;
#  - faii_settle_* metrics.
#   settle_cmds.sh FAIID FAIICTL FAII_VALIDATOR CONFIG GEN_DEMO_CONFIG
set -uo pipefail
# shellcheck source=../lib/require.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/require.sh"
require python3 od awk
if ! python3 -c "import cryptography" 2>/dev/null; then
	echo "FAIL: python3-cryptography is not installed (scripts/deps.txt)"
	exit 1
fi
faiid=$1 faiictl=$2 validator=$3 demo=$4 gen_demo_config=$5
here=$(dirname "${BASH_SOURCE[0]}")
tx="python3 $here/../lib/settle_tx.py"
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
demo=$(bash "$here/../lib/demo_config.sh" "$gen_demo_config" "$demo" "$tmp") || exit 1
fail=0
check() { # description, condition-status
	if [ "$2" -eq 0 ]; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi
}

# shellcheck source=../lib/faiid_consortium.sh
. "$here/../lib/faiid_consortium.sh"
consortium_setup "$tmp" "$validator"
settlement=$'settlement:\n  epoch_s: 3\n  activation_delay_s: 2\n  nodes_max: 1024'
votes=$tmp/votes.hex # validators 1-3 submit what is appended here
consortium_start_validators "$settlement" --status-ms 250 --slice-ms 250 --submit-file "$votes"
consortium_faiid_config "$demo" "$settlement" >"$tmp/faiid.yaml"

sock=$tmp/faii.sock
ctl() { "$faiictl" --socket "$sock" --timeout 10 "$@"; }
consortium_start_faiid "$faiid" faii-settle-cmds
json() { # faiictl words..., then a python expression on r
	local expr=${*: -1}
	ctl --json "${@:1:$#-1}" 2>/dev/null |
		python3 -c "import json,sys; r=json.load(sys.stdin); print($expr)" 2>/dev/null
}
wait_for() { # seconds, description, faiictl words..., python condition on r
	local seconds=$1 what=$2 deadline=$((SECONDS + $1)) got=""
	shift 2
	while [ $SECONDS -lt $deadline ] && kill -0 "$faiid_pid" 2>/dev/null; do
		got=$(json "$@")
		[ "$got" = True ] && break
		sleep 0.2
	done
	check "$what" $([ "$got" = True ]; echo $?)
}
# A transaction a validator submitted used to be lost when its vertex was
# orphaned (now requeued: docs/consensus.md, "Orphaned vertices"); the
# retries stay as a guard and print a note when they were needed: retry
# submits again, up to 3 times, what did not show within 10 s; resubmitting
# any of these is harmless (refused as a duplicate).
retry() { # description, action (a command string), faiictl words..., python condition on r
	local what=$1 action=$2 got="" attempt deadline
	shift 2
	for attempt in 1 2 3; do
		eval "$action" >/dev/null
		deadline=$((SECONDS + 10))
		while [ $SECONDS -lt $deadline ] && kill -0 "$faiid_pid" 2>/dev/null; do
			got=$(json "$@")
			[ "$got" = True ] && break 2
			sleep 0.2
		done
		echo "note: $what: not seen after 10 s (attempt $attempt)"
	done
	check "$what" $([ "$got" = True ]; echo $?)
}
wait_for 60 "the consortium's clock runs: an epoch is settled" settle status \
	"r['epochs_settled'] >= 1"
consortium_faiid_alive

# Two nodes with keys of their own (meter readings and disputes are signed).
seed_a=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
seed_b=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
register_and_observe() {
	ctl dag submit "$($tx register 9000101 7 0 1 0 "$($tx public "$seed_a")")"
	ctl dag submit "$($tx register 9000202 8 4 20 1000 "$($tx public "$seed_b")")"
	sleep 1 # registered before the summary observes them
	local now_ms
	now_ms=$(python3 -c "import time; print(int(time.time() * 1000))")
	ctl dag submit "$($tx summary $((now_ms / 1000)) "$now_ms" \
		9000101:10:10:0:100:100:100 9000202:10:9:1:50:50:50)"
}
retry "reputation list: both nodes observed" register_and_observe reputation list \
	"[n['node'] for n in r['nodes'] if n['node'] >= 9000000] == [9000101, 9000202] and r['truncated'] is False"
ctl reputation show 9000202
check "reputation show: components of an observed node" \
	$([ "$(json reputation show 9000202 "r['known'] and r['uptime_ppb'] == 900000000")" = True ]
	echo $?)

# ---- governance ----
epoch=$(json settle status "r['current_epoch']")
effective=$((epoch + 8))
check "gov params: tiers.2.factor is 2.0 in force, by default and at genesis" \
	$([ "$(json gov params "[(p['value'], p['default'], p['genesis'], p['may_set'])
		for p in r['params'] if p['name'] == 'tiers.2.factor'][0] ==
		(2000000000, 2000000000, 2000000000, [1800000000, 2200000000])")" = True ]
	echo $?)
retry "gov propose through faiid: open, by validator 0, without votes" \
	"ctl gov propose tiers.2.factor=2200000000 --epoch $effective" gov list \
	"[(p['status'], p['proposer'], p['votes_for'], p['changes'][0]['param'])
	  for p in r['proposals']] == [('open', 0, 0, 'tiers.2.factor')]"
id=$(json gov list "r['proposals'][0]['id']")
retry "gov vote by faiid: one vote for, quorum 3 of 4" "ctl gov vote $id yes" gov show "$id" \
	"r['votes_for'] == 1 and r['voted_for'] == [0] and r['quorum'] == 3"
retry "validators 1-3 vote: the proposal is adopted" "$tx gov_vote $id 1 >>$votes" gov show "$id" \
	"r['status'] == 'adopted' and r['votes_for'] >= 3"
check "gov params: 2.2 in force from epoch $effective, 2.0 before" \
	$([ "$(json gov params $((effective - 1)) "[p['value'] for p in r['params']
		if p['name'] == 'tiers.2.factor'] == [2000000000]")" = True ] &&
	[ "$(json gov params "$effective" "[p['value'] for p in r['params']
		if p['name'] == 'tiers.2.factor'] == [2200000000]")" = True ]
	echo $?)
wait_for 90 "routing follows governance: policy tiers.2.factor is 2.2 from epoch $effective" \
	policy get "[p['value'] for p in r['params'] if p['name'] == 'tiers.2.factor'] == [2.2]"
# A fresh epoch: the adoption above may have taken several 3 s epochs.
effective=$(($(json settle status "r['current_epoch']") + 8))
ctl gov propose tiers.3.factor=4500000000 --epoch "$effective" 2>"$tmp/cap.err"
rc=$?
cat "$tmp/cap.err"
check "gov propose beyond the step cap: refused by faiictl (exit $rc)" \
	$([ $rc -eq 1 ] && grep -q step_cap_exceeded "$tmp/cap.err"; echo $?)
ctl gov propose no.such.param=1 --epoch "$effective" 2>"$tmp/name.err"
check "gov propose of an unknown parameter: invalid_argument" \
	$(grep -q invalid_argument "$tmp/name.err"; echo $?)
retry "the same change submitted anyway: settlement refuses it (beyond the step cap)" \
	"ctl dag submit $($tx gov_proposal "$effective" 5=4500000000)" gov list "r['counters']['refused']['beyond_the_step_cap'] >= 1"
check "settle status: refused.governance counts it" \
	$([ "$(json settle status "r['transactions']['refused']['governance'] >= 1")" = True ]
	echo $?)

# ---- slashing ----
retry "slash list: a replica disagreement against node 9000202, open, 10 % of its stake" \
	"ctl dag submit $($tx slash_replica 9000202 77)" slash list "[(p['id'], p['accused'], p['offense'], p['state'], p['amount'], p['reporter'])
	  for p in r['proposals']] == [(1, 9000202, 'replica_disagreement', 'open', 100, 0)]"
ctl slash show 1
ctl slash vote 1 uphold 2>"$tmp/vote.err"
check "slash vote on an undisputed proposal: conflict" \
	$(grep -q conflict "$tmp/vote.err"; echo $?)
check "slash nodes: 9000202 has an open proposal, not slashed" \
	$([ "$(json slash nodes "[(n['node'], n['open'], n['slashed']) for n in r['nodes'] if n['node'] >= 9000000] ==
		[(9000202, 1, False)]")" = True ]
	echo $?)
retry "the accused disputes (node-signed): disputed" \
	"ctl dag submit $($tx dispute "$seed_b" 1 9000202 "the_majority_was_wrong")" slash show 1 \
	"r['state'] == 'disputed'"
retry "slash vote: faiid upholds" "ctl slash vote 1 uphold" slash show 1 \
	"r['votes_uphold'] == 1"
retry "validators 1-3 uphold: executed, node 9000202 slashed" "$tx dispute_vote 1 1 >>$votes" \
	slash nodes --slashed \
	"[(n['node'], n['slashed']) for n in r['nodes'] if n['node'] >= 9000000] == [(9000202, True)]"
check "slash show: executed" \
	$([ "$(json slash show 1 "r['state']")" = executed ]; echo $?)

# ---- carbon ----
now_s=$(python3 -c "import time; print(int(time.time()))")
start=$(((now_s / 60 - 2) * 60))
retry "carbon totals: 50 Wh minted from the reading" \
	"ctl dag submit $($tx meter "$seed_a" 9000101 5 "$start" 60 50000 1000000000 DE $((start + 60)))" \
	carbon totals \
	"r['minted_wh'] == 50 and r['readings'] == 1"
wait_for 20 "carbon retirements: the 50 Wh retired against node 9000101's energy" \
	carbon retirements "[(x['operator'], x['node'], x['meter'], x['wh']) for x in r['rows']]
	  == [(7, 9000101, 5, 50)]"
check "carbon balances: operator 7 holds 50 retired Wh" \
	$([ "$(json carbon balances "[(b['operator'], b['retired_wh'], b['tradable_wh'])
		for b in r['rows']] == [(7, 50, 0)]")" = True ]
	echo $?)
check "carbon certificates --operator 7 --meter 5: one lot, all retired" \
	$([ "$(json carbon certificates --operator 7 --meter 5 "[(c['wh'], c['wh_retired'],
		c['location'], c['node']) for c in r['rows']] == [(50, 50, 'DE', 9000101)]")" = True ]
	echo $?)
check "carbon certificates --operator 8: none" \
	$([ "$(json carbon certificates --operator 8 "r['rows'] == [] and r['total'] == 0")" = True ]
	echo $?)

# ---- calibration (observations from a file, then the ledger's: docs/settlement.md) ----
cat >"$tmp/calib.json" <<'JSON'
{"epochs": 10, "energy_weight": 1, "time_weight": 0, "tiers": [
 {"verified_work": 1000, "answered": 1000, "slo_hits": 1000, "energy_wh": 1000, "busy_us": 0, "queue_ppb_sum": 0},
 {"verified_work": 1000, "answered": 1000, "slo_hits": 1000, "energy_wh": 2100, "busy_us": 0, "queue_ppb_sum": 0},
 {"verified_work": 1000, "answered": 1000, "slo_hits": 1000, "energy_wh": 3300, "busy_us": 0, "queue_ppb_sum": 0},
 {"verified_work": 1000, "answered": 1000, "slo_hits": 1000, "energy_wh": 4400, "busy_us": 0, "queue_ppb_sum": 0}]}
JSON
cal_epoch=$(($(json settle status "r['current_epoch']") + 30))
ctl calibrate --input "$tmp/calib.json" --epoch "$cal_epoch"
check "calibrate: a proposal within the step cap, tier 1 the unit" \
	$([ "$(json calibrate --input "$tmp/calib.json" --epoch "$cal_epoch" \
		"r['outcome'] == 'proposed' and len(r['tiers']) == 4 and
		 r['tiers'][0]['estimate_ppb'] == 1000000000 and len(r['changes']) >= 1")" = True ]
	echo $?)
ctl calibrate --input "$tmp/calib.json" --epoch "$cal_epoch" --submit >/dev/null
check "calibrate --submit: queued as a governance proposal" $?
# Without --input: the ledger's window (epochs have settled by now).
ctl calibrate --time-weight 1
check "calibrate without --input: the ledger's window of settled epochs" \
	$([ "$(json calibrate --time-weight 1 "r['window']['source'] == 'ledger' and
		1 <= r['window']['epochs'] <= 64 and
		r['window']['first_epoch'] <= r['window']['last_epoch'] and len(r['tiers']) == 4")" = True ]
	echo $?)
echo '{"epochs": 0}' >"$tmp/bad.json"
ctl calibrate --input "$tmp/bad.json" 2>"$tmp/bad.err"
check "calibrate with a bad file: invalid_argument" \
	$(grep -q invalid_argument "$tmp/bad.err"; echo $?)

# ---- metrics ----
python3 - "${ports[4]}" <<'PY'
import sys, time, urllib.request
want = {
    "faii_settle_nodes": lambda v: v >= 2,  # and faiid's own fleet
    "faii_settle_slashes_executed_total": lambda v: v == 1,
    "faii_settle_burned_units_total": lambda v: v == 50,
    "faii_settle_carbon_retired_wh_total": lambda v: v == 50,
    "faii_settle_epochs_settled_total": lambda v: v >= 1,
    "faii_settle_current_epoch": lambda v: v > 0,
    "faii_settle_consortium_time_seconds": lambda v: abs(v - time.time()) < 120,
    "faii_settle_paid_units_total": lambda v: v > 0,
    "faii_settle_latest_root_final": lambda v: v in (0, 1),
    'faii_settle_refused_total{reason="governance"}': lambda v: v >= 1,
    'faii_settle_transactions_total{kind="meter_reading"}': lambda v: v == 1,
}
seen = {}
deadline = time.time() + 20
while time.time() < deadline:
    text = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5).read()
    seen = dict(line.rsplit(" ", 1) for line in text.decode().splitlines()
                if line.startswith("faii_settle_"))
    if all(k in seen and ok(float(seen[k])) for k, ok in want.items()):
        break
    time.sleep(0.5)
bad = [k for k, ok in want.items() if k not in seen or not ok(float(seen[k]))]
for k in bad:
    print(f"FAIL: metric {k} = {seen.get(k)}")
sys.exit(1 if bad else 0)
PY
check "faii_settle_* metrics" $?

if [ $fail -ne 0 ]; then # what settlement refused, for the reader of a failure
	json settle status "r['transactions']"
	ctl slash list
fi
kill -TERM "$faiid_pid"
wait "$faiid_pid"
check "faiid stops cleanly" $?
exit $fail
