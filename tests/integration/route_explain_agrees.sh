#!/usr/bin/env bash
# `route explain` agrees with the routing decisions faiid actually takes:
# fresh TASKs of one key are replayed through net_pcap and the copies faiid
# transmits are captured; every node that received one is a candidate of the
# key's table that route.explain reports (a few may be zero-share candidates
# taking overflow: nothing answers here, so nodes reach their load limits),
# none is among its excluded nodes, and the node it says the
# dataplane would pick received tasks; once drained, a node is reported not
# feasible per packet. Needs nothing but DPDK virtual devices.
#   route_explain_agrees.sh FAIID FAIICTL MAKE_TASKS CONFIG
set -euo pipefail
# The programs this test runs, checked against scripts/deps.txt.
# shellcheck source=../lib/require.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/require.sh"
require python3
faiid=$1 faiictl=$2 make_tasks=$3 config=$4 gen_demo_config=$5
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
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

# Key: Zurich (region 1), batch inference (category 5), class any (1);
# a 60 s budget outlives the start.
count=120
"$make_tasks" "$tmp/tasks.pcap" $count 1 5 1 60000000
sock=$tmp/ctl.sock
start_faiid() { # rx pcap, tx pcap, log
	"$faiid" -l 0-1 --no-huge -m 512 --no-pci --file-prefix "faii-rx-$$-$RANDOM" \
		--vdev "net_pcap0,rx_pcap=$1,tx_pcap=$2" --log-level lib.eal:warning -- \
		--config "$config" --ledger-dir "$tmp/ledger" --control-socket "$sock" \
		--metrics-port "$((20000 + RANDOM % 20000))" >"$3" 2>&1 &
	pid=$!
	for _ in $(seq 1 150); do
		[ -S "$sock" ] && grep -q "running with" "$3" && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.2
	done
}
stop_faiid() {
	kill -TERM $pid
	wait $pid || true
	pid=
}
# Waits (bounded) until the counters say every task was dispatched.
wait_dispatched() {
	for _ in $(seq 1 100); do
		n=$("$faiictl" --socket "$sock" --json counters |
			python3 -c 'import json,sys; print(json.load(sys.stdin)["pipeline"]["tasks_dispatched"])')
		[ "$n" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

start_faiid "$tmp/tasks.pcap" "$tmp/out1.pcap" "$tmp/log1"
check "faiid dispatched all $count tasks" $(wait_dispatched $count; echo $?)
"$faiictl" --socket "$sock" --json route explain --region zurich \
	--category batch_inference --class any >"$tmp/explain1.json"
"$faiictl" --socket "$sock" node drain 3 >/dev/null
"$faiictl" --socket "$sock" --json route explain --region zurich \
	--category batch_inference --class any >"$tmp/explain_drained.json"
stop_faiid

rc=0
python3 - "$tmp/out1.pcap" "$tmp/explain1.json" "$tmp/explain_drained.json" $count <<'PY' || rc=$?
import json, struct, sys
pcap, explain_path, drained_path, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ex = json.load(open(explain_path))
dr = json.load(open(drained_path))
cands = {c["node"]: c for c in ex["candidates"]}
excluded = {e["node"] for e in ex["excluded"]}
got = {}
with open(pcap, "rb") as f:
    f.read(24)
    while True:
        h = f.read(16)
        if len(h) < 16:
            break
        incl = struct.unpack("<IIII", h)[2]
        fr = f.read(incl)
        l3 = 14
        if fr[12:14] == b"\x81\x00":
            l3 = 18
        ihl = (fr[l3] & 0x0F) * 4
        msg = fr[l3 + ihl + 8:]
        if len(msg) < 64 or msg[3] != 1:  # TASK
            continue
        node = struct.unpack(">I", msg[8 + 32:8 + 36])[0]
        got[node] = got.get(node, 0) + 1
bad = 0
overflow = [0]
def fail(m):
    global bad
    print("FAIL:", m)
    bad = 1
if sum(got.values()) != count:
    fail(f"{sum(got.values())} TASK copies captured, {count} sent")
for node, n in sorted(got.items()):
    c = cands.get(node)
    if c is None:
        fail(f"node {node} got {n} tasks but is no candidate of route explain")
    elif not c["share"] > 0:
        # Overflow: both draws were at their load limit (no results come
        # back here), so the least loaded feasible candidate took it.
        overflow[0] += n
    if node in excluded:
        fail(f"node {node} got {n} tasks but route explain excludes it")
if overflow[0] > count // 10:
    fail(f"{overflow[0]} of {count} tasks went to zero-share candidates")
pick = ex["would_pick"]
if pick is None or got.get(pick["node"], 0) == 0:
    fail(f"route explain's pick {pick} received no task")
print(f"{len(got)} nodes received {sum(got.values())} tasks; all among the "
      f"{len(cands)} candidates route explain lists ({overflow[0]} as overflow to "
      f"zero-share candidates when both draws were at their load limit); its pick "
      f"{pick['node']} got {got.get(pick['node'], 0)}")
c3 = {c["node"]: c for c in dr["candidates"]}
if 3 in c3 and c3[3]["per_packet"] != "not_active":
    fail("a drained node is still feasible per packet in route explain")
# The terms per candidate give its value (docs/routing.md 2):
# a = (s x - kappa_e e / p_bar) p_bar / p, R = m p, m in [0, 1].
fl = ex["fleet"]
for c in ex["candidates"]:
    t = c["terms"]
    a = max((t["slo_success"] * t["esg_relative"] - t["energy_cost"] / fl["price_mean"])
            * fl["price_mean"] / t["price"], 1e-9)
    if abs(a - t["value"]) > 1e-6 * a or abs(t["value"] - c["value"]) > 1e-5 * a:
        fail(f"node {c['node']}: value {c['value']} / {t['value']}, terms give {a}")
    if not 0 <= t["reward_multiplier"] <= 1 or \
            abs(t["reward"] - t["reward_multiplier"] * t["price"]) > 1e-9:
        fail(f"node {c['node']}: reward {t['reward']} = {t['reward_multiplier']} x {t['price']}?")
    if abs(t["class_price"] - fl["class_price"][t["class"]]) > 1e-12:
        fail(f"node {c['node']}: class price {t['class_price']}")
if not 0 < ex["operator_cap"] < 1:
    fail(f"operator cap {ex['operator_cap']}")
print(f"the terms of {len(ex['candidates'])} candidates give their values")
sys.exit(bad)
PY
check "every dispatched node is a feasible candidate of route explain" $rc
exit $fail
