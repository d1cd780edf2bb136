#!/usr/bin/env bash
# Settlement on the consortium's committed sequence, end to end
# (docs/settlement.md, "In faiid"): faiid is validator 1 of 4 with three
# faii-validator processes (validator-only appliances), every one settling.
#  - node registrations and a work summary (submitted by validator 2) commit
#    and are paid in the epoch they fall in (3 s epochs);
#  - every validator computes the same payout root for that epoch, and the
#    root becomes final (2f + 1 matching roots and the 2 s activation delay);
#  - faiictl payout proof gives a node's leaf and path; faiictl payout verify
#    checks it offline (exit 0), and refuses a changed amount or sibling
#    (exit 1);
#  - a node's signed ATTEST, accepted by faiid, is committed as an ESG
#    attestation and mints its certificate (faiictl carbon certificates);
#  - settle status: nodes, money conserved, nothing refused.
#   settle_ops.sh FAIID FAIICTL FAII_VALIDATOR CONFIG GEN_DEMO_CONFIG
set -uo pipefail
# shellcheck source=../lib/require.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/require.sh"
require python3 od awk curl
faiid=$1 faiictl=$2 validator=$3 demo=$4 gen_demo_config=$5
here=$(dirname "${BASH_SOURCE[0]}")
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
settlement=$'settlement:\n  epoch_s: 3\n  activation_delay_s: 2\n  dispute_window_s: 4\n  nodes_max: 1024'
op_test=$(python3 "$here/../lib/settle_tx.py" operator-id op-test)
# Two nodes and one slice of their work, as an appliance would report them:
# validator 2 submits them (tests-only --submit-file) and sends no slices of
# its own, so its summary is the only one it authors.
key=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
now_ms=$(python3 -c "import time; print(int(time.time() * 1000))")
{
	python3 "$here/../lib/settle_tx.py" register 9000101 7 0 1 0 "$key"
	python3 "$here/../lib/settle_tx.py" register 9000202 "$op_test" 4 20 1000 "$key"
	python3 "$here/../lib/settle_tx.py" summary 1 "$now_ms" \
		9000101:10:10:0:100:100:100 9000202:10:9:1:50:50:50
	python3 "$here/../lib/settle_tx.py" slash_replica 9000202 4242
} >"$tmp/submit.hex"
consortium_start_validators "$settlement" --status-ms 250 --slice-ms 250
consortium_faiid_config "$demo" "$settlement" >"$tmp/faiid.yaml"

sock=$tmp/faii.sock
ctl() { "$faiictl" --socket "$sock" --timeout 10 "$@"; }
consortium_start_faiid "$faiid" faii-settle
field() { # json-path (python expression on r) from settle status --json
	ctl --json settle status 2>/dev/null |
		python3 -c "import json,sys; r=json.load(sys.stdin); print($1)" 2>/dev/null
}
deadline=$((SECONDS + 60))
settled=0
while [ $SECONDS -lt $deadline ] && kill -0 "$faiid_pid" 2>/dev/null; do
	settled=$(field "r['epochs_settled']")
	[ "${settled:-0}" -ge 1 ] && break
	sleep 0.2
done
consortium_faiid_alive
check "the consortium's clock runs: faiid has settled an epoch" \
	$([ "${settled:-0}" -ge 1 ]; echo $?)

# Node 5 of the demo fleet signs an ATTEST (its demonstration key): faiid's
# slow path accepts it and puts its bytes in the ledger as an ESG
# attestation (kind 3); settlement mints 1000 Wh x 900 per mille renewable
# = 900 Wh for (meter 5, the last whole quarter hour), owned by its operator.
# A transaction is occasionally never committed (its vertex left out of every
# anchor's history, docs/settlement.md "Operating"): a second attestation,
# a second later, if none shows within 10 s.
cert="" attempts=0
while [ $attempts -lt 2 ] && [ -z "$cert" ]; do
	attempts=$((attempts + 1))
	[ $attempts -eq 1 ] || sleep 1 # --seq is the Unix second: a newer one
	ctl node attest --attest --node 5 --demo-key >"$tmp/attest.out" 2>&1
	check "faiid accepts node 5's signed attestation (attempt $attempts)" \
		$(grep -q accepted "$tmp/attest.out"; echo $?)
	deadline=$((SECONDS + 10))
	while [ $SECONDS -lt $deadline ]; do
		cert=$(ctl --json carbon certificates --node 5 2>/dev/null | python3 -c "
import json, sys
r = json.load(sys.stdin)
print(' '.join(f\"{c['meter']}:{c['interval_s']}:{c['wh']}:{c['interval_start_s'] % 900}\"
               for c in r['rows']))" 2>/dev/null)
		[ -n "$cert" ] && break
		sleep 0.2
	done
done
check "the attestation is committed and minted (carbon certificates: ${cert:-none})" \
	$([ "$cert" = "5:900:900:0" ]; echo $?)
curl -s "http://127.0.0.1:${ports[4]}/metrics" >"$tmp/metrics"
grep -qE "^faii_settle_attestations_submitted_total $attempts\$" "$tmp/metrics" &&
	grep -qE '^faii_settle_attestations_dropped_total\{reason="queue_full"\} 0$' "$tmp/metrics"
check "/metrics: faii_settle_attestations_submitted_total $attempts, none dropped" $?

# Node 9000202 joins faiid's registry too; validator 2 has accused it of a
# replica disagreement: once the 4 s dispute window ends undisputed the slash
# executes and faiid stops routing to it (status slashed).
cat >"$tmp/node.yaml" <<EOF
id: 9000202
name: settle-test-9000202
class: XL
operator: op-test
asn: 64999
country: CH
region: zurich
location: [47.37, 8.54]
address: "198.51.100.22:7410"
capacity: 20
eligibility: [all]
price: 1.0
reputation: 0.9
esg:
  mix: {hydro: 0.9, nonrenewable: 0.1}
  pue: 1.1
  energy_to_work: 0.02
  grid_stress: 0.1
public_key: $key
EOF
ctl node add --file "$tmp/node.yaml" >/dev/null
check "node 9000202 added to faiid's registry" $?
node_status() {
	ctl --json node show 9000202 2>/dev/null |
		python3 -c "import json,sys; print(json.load(sys.stdin)['status'])" 2>/dev/null
}
status=""
deadline=$((SECONDS + 40))
while [ $SECONDS -lt $deadline ]; do
	status=$(node_status)
	[ "$status" = slashed ] && break
	sleep 0.3
done
check "the executed slash reaches the registry: node 9000202 is $status" \
	$([ "$status" = slashed ]; echo $?)

# The epoch that paid them (settle status lists the last 8 settled).
epoch=""
deadline=$((SECONDS + 30))
while [ $SECONDS -lt $deadline ]; do
	epoch=$(field "min([e['epoch'] for e in r['epochs'] if e['paid'] > 0] or [''])")
	[ -n "$epoch" ] && break
	sleep 0.2
done
check "an epoch pays the two nodes (epoch ${epoch:-none})" $([ -n "$epoch" ]; echo $?)
final=false
deadline=$((SECONDS + 30))
while [ $SECONDS -lt $deadline ] && [ -n "$epoch" ]; do
	ctl --json payout proof 9000101 "$epoch" >"$tmp/proof.json" 2>"$tmp/proof.err"
	final=$(python3 -c "import json,sys; print(str(json.load(open(sys.argv[1]))['final']).lower())" \
		"$tmp/proof.json" 2>/dev/null)
	[ "$final" = true ] && break
	sleep 0.2
done
check "its root becomes final (a quorum of matching roots, then the delay)" \
	$([ "$final" = true ]; echo $?)
cat "$tmp/proof.json"

"$faiictl" payout verify "$tmp/proof.json"
check "payout verify: the proof is valid offline" $?
python3 - "$tmp/proof.json" "$tmp" <<'PY'
import json, struct, sys
p = json.load(open(sys.argv[1]))
# A bigger claim, its leaf re-encoded consistently (docs/settlement.md): only
# the path to the root can refuse it.
amount = dict(p, amount=p["amount"] + 1, cumulative=p["cumulative"] + 1)
amount["leaf"] = struct.pack("<QIIQQ", amount["epoch"], amount["operator"], amount["node"],
                             amount["amount"], amount["cumulative"]).hex()
json.dump(amount, open(sys.argv[2] + "/amount.json", "w"))
sibling = dict(p)
if sibling["siblings"]:
    s = sibling["siblings"][0]
    sibling["siblings"] = [("0" if s[0] != "0" else "1") + s[1:]] + sibling["siblings"][1:]
else:  # a one-leaf tree: a path that claims a sibling is as wrong
    sibling["siblings"] = ["00" * 32]
json.dump(sibling, open(sys.argv[2] + "/sibling.json", "w"))
PY
"$faiictl" payout verify "$tmp/amount.json" >"$tmp/amount.out"
rc=$?
cat "$tmp/amount.out"
check "a changed amount is refused (exit $rc)" $([ "$rc" -eq 1 ]; echo $?)
"$faiictl" payout verify "$tmp/sibling.json" >/dev/null
check "a changed sibling is refused" $([ $? -eq 1 ]; echo $?)

# Every validator computed the same root for that epoch.
root=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['root'])" "$tmp/proof.json")
for i in 2 3 4; do
	theirs=$(python3 - "$tmp/v$i/status.jsonl" "$epoch" <<'PY'
import json, sys
root = ""
for line in open(sys.argv[1]):
    try:
        s = json.loads(line)["settle"]
    except (ValueError, KeyError):
        continue
    if s.get("latest_epoch") == int(sys.argv[2]):
        root = s["root"]
print(root)
PY
)
	check "validator $i settled epoch $epoch to the same root" \
		$([ -n "$root" ] && [ "$theirs" = "$root" ]; echo $?)
done

ctl settle status
ctl --json settle status >"$tmp/status.json"
python3 - "$tmp/status.json" "$attempts" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
attempts = int(sys.argv[2])  # attestations sent: the second may be a double mint
m = r["money"]
bad = 0
def need(what, ok):
    global bad
    print(("ok: " if ok else "FAIL: ") + what)
    bad |= not ok
need(f"the test's nodes and faiid's fleet registered ({r['nodes']})", r["nodes"] > 200)
need("one slash executed: 10 % of 1000 split 50/30/20",
     r["slashes_executed"] == 1 and m["burned"] == 50 and m["reporter_rewards"] == 30)
need("money is conserved", m["minted"] + m["slashed_stake"] == m["paid"] + m["escrow"] +
     m["treasury"] + m["burned"] + m["reporter_rewards"] and m["paid"] > 0)
refused = r["transactions"]["refused"]
need("nothing refused but roots of validators not yet settled",
     all(v == 0 for k, v in refused.items() if k not in ("root_unknown",)
         and not (k == "carbon" and v <= attempts - 1)))
need("summaries and roots applied", r["transactions"]["applied"]["work_summary"] > 0 and
     r["transactions"]["applied"]["payout_root"] > 0)
need("faiid published its roots", r["roots_submitted"] > 0)
a = r["attestations"]
need(f"{attempts} attestation(s) queued and submitted, one applied ({a})",
     a["queued"] == attempts and a["submitted"] == attempts and a["waiting"] == 0 and
     a["applied"] == 1 and r["transactions"]["applied"]["esg_attestation"] == 1 and
     all(v == 0 for k, v in a["refused"].items() if k != "carbon") and
     a["refused"]["carbon"] <= attempts - 1)
sys.exit(bad)
PY
check "settle status values" $?
ctl payout proof 999 >/dev/null 2>"$tmp/none.err"
check "a node without a leaf is not_found" $(grep -q "not_found" "$tmp/none.err"; echo $?)
kill -TERM "$faiid_pid"
wait "$faiid_pid"
check "faiid stops cleanly" $?
exit $fail
