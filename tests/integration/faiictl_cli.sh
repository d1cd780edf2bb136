#!/usr/bin/env bash
# faiictl against a mock server (control_probe.py mock): every subcommand sends
# the request docs/control.md defines (checked on the logged request line),
# tables and --json render the result, server errors exit 1 with "CODE:
# message", usage errors exit 2 without connecting, and a server that does
# not answer, answers garbage, closes or floods exits 3 within the timeout.
# Then the man page: groff -ww prints no warning and man -l renders it.
#   faiictl_cli.sh FAIICTL PROBE SOURCE_ROOT
set -uo pipefail
# The programs this test runs, checked against scripts/deps.txt.
# shellcheck source=../lib/require.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/require.sh"
require python3 groff man awk
ctl=$(realpath "$1") probe=$2 root=$3
tmp=$(mktemp -d)
mock_pid=
stop_mock() {
	[ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
	mock_pid=
}
trap 'stop_mock; rm -rf "$tmp"' EXIT
fail=0
ok() { echo "ok: $1"; }
bad() {
	echo "FAIL: $1"
	fail=1
}
start_mock() { # mode
	stop_mock
	rm -f "$tmp/sock" "$tmp/log"
	python3 "$probe" mock "$tmp/sock" "$tmp/log" "$1" &
	mock_pid=$!
	for _ in $(seq 1 100); do
		[ -S "$tmp/sock" ] && return 0
		sleep 0.05
	done
	bad "mock server ($1) did not start"
}
# run: description, expected status, stdout regex, faiictl args...
run() {
	local what=$1 want=$2 regex=$3
	shift 3
	local rc
	"$ctl" --socket "$tmp/sock" --timeout 3 "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -ne "$want" ] || ! grep -qE -- "$regex" "$tmp/out" "$tmp/err"; then
		bad "$what: status $rc (want $want), out/err:"
		head -20 "$tmp/out" "$tmp/err"
	else
		ok "$what"
	fi
}
# sent: description, python expression over the last logged request r
sent() {
	if python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).read().splitlines()[-1]); sys.exit(0 if eval(sys.argv[2]) else 1)' \
		"$tmp/log" "$2" 2>/dev/null; then
		ok "request of $1"
	else
		bad "request of $1: $2; sent: $(tail -1 "$tmp/log" 2>/dev/null)"
	fi
}

# ---- help and usage: nothing is sent ----
run "--help" 0 "node attest" --help
run "node --help lists the subcommands" 0 "node drain ID" node --help
run "policy set --help" 0 "NAME=VALUE.*--dry-run" policy set --help
run "route explain --help" 0 "--min-reputation" route explain --help
for c in status "node list" "node show" "node add" "node remove" "node drain" "node undrain" \
	"node attest" "policy get" "policy set" "residency list" "residency set" queues latency \
	"route explain" counters "ledger status" "config reload" "keys reload" "dag status" \
	"dag peers" "dag vertex" "dag evidence" "dag submit"; do
	# shellcheck disable=SC2086
	run "$c --help" 0 "protocol command: ${c// /.}" $c --help
done
run "no command" 2 "usage:"
run "unknown command" 2 "unknown command" frobnicate
run "unknown subcommand" 2 "unknown command \"node frob\"" node frob
run "node show without id" 2 "expected one node id" node show
run "node show non-numeric id" 2 "expected a node id" node show five
run "node show id 0" 2 "expected a node id" node show 0
run "policy set without =" 2 "expected NAME=VALUE" policy set concentration_eta
run "policy set non-number" 2 "expected a decimal number" policy set concentration_eta=abc
run "policy set hex refused" 2 "expected a decimal number" policy set concentration_eta=0x1p-1
run "route explain without class" 2 "are required" route explain --region 1 --category 1
run "node add missing file" 2 "nope.json" node add --file "$tmp/nope.json"
run "node attest without message" 2 "is required" node attest
run "node attest odd hex" 2 "hex digits" node attest --message abc
run "node attest without --demo-key" 2 "demo-key is required" node attest --attest --node 5
run "dag vertex without author" 2 "expected ROUND AUTHOR" dag vertex 5
run "dag vertex non-numeric round" 2 "ROUND: expected an integer" dag vertex five 1
run "dag vertex non-numeric author" 2 "AUTHOR: expected a validator index" dag vertex 5 one
run "dag submit without hex" 2 "expected one transaction in hex" dag submit
run "--timeout 0 refused" 2 "timeout" --timeout 0 status
run "no server: exit 3" 3 "cannot connect" status
[ -e "$tmp/log" ] && bad "usage errors sent nothing" || ok "usage errors sent nothing"

# ---- requests and rendering ----
start_mock normal
run "status table" 0 "^version +0\.1\.0" status
sent status 'r["cmd"] == "status" and "args" not in r and isinstance(r["id"], int)'
run "status nested object indented" 0 "^  digest +ab12" status
run "status --json" 0 '"protocol": 1' --json status
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["config"]["digest"] == "ab12"' "$tmp/out" &&
	ok "--json output is the result object" || bad "--json output is the result object"
run "node list table" 0 "^  ID +NAME +CLASS +STATUS +LATENCY_US" node list
grep -qE "^   1  frankfurt-micro-001  micro  active    +850\.5$" "$tmp/out" &&
	grep -qE "^  22  zurich-xl-022 +XL +draining +12000$" "$tmp/out" &&
	ok "node list columns aligned, numbers right-aligned" ||
	{
		bad "node list columns aligned"
		cat "$tmp/out"
	}
run "node list --status" 0 "" node list --status draining
sent "node list --status" 'r["cmd"] == "node.list" and r["args"] == {"status": "draining"}'
for c in show remove drain undrain; do
	run "node $c" 0 "" node $c 42
	sent "node $c" "r['cmd'] == 'node.$c' and r['args'] == {'id': 42}"
done
run "not_found exits 1 with code and message" 1 "^faiictl: not_found: node 404 is not registered$" node show 404
printf '{"id": 9001, "class": "micro", "capacity": 6, "name": "x"}\n' >"$tmp/node.json"
run "node add JSON" 0 "" node add --file "$tmp/node.json"
sent "node add JSON" 'r["cmd"] == "node.add" and r["args"]["node"] == {"id": 9001, "class": "micro", "capacity": 6, "name": "x"}'
cat >"$tmp/node.yaml" <<'EOF'
- id: 9002
  name: "007"
  class: micro
  price: 1.05
  location: [47.378, 8.540]
  esg:
    mix: {solar: 0.35, hydro: 0.65}
EOF
run "node add YAML" 0 "" node add --file "$tmp/node.yaml"
sent "node add YAML" 'r["args"]["node"] == {"id": 9002, "name": "007", "class": "micro", "price": 1.05, "location": [47.378, 8.54], "esg": {"mix": {"solar": 0.35, "hydro": 0.65}}}'
printf 'a: [\n' >"$tmp/broken.yaml"
run "node add broken YAML" 2 "broken.yaml:" node add --file "$tmp/broken.yaml"
run "node attest --message" 0 "" node attest --message FA11abcd
sent "node attest --message" 'r["cmd"] == "node.attest" and r["args"] == {"message": "FA11abcd"}'
run "node attest --attest --demo-key" 0 "" node attest --attest --node 5 --demo-key --seq 9 --pue 1.2
sent "node attest --attest" 'r["args"]["message"].startswith("fa110104") and len(r["args"]["message"]) == 2 * 140'
hex=$("$ctl" node attest --heartbeat --node 5 --demo-key --seq 3 --timestamp-ns 1000 --print)
hex2=$("$ctl" node attest --heartbeat --node 5 --demo-key --seq 3 --timestamp-ns 1000 --print)
[[ "$hex" =~ ^fa110103 ]] && [ "$hex" = "$hex2" ] &&
	ok "node attest --heartbeat --print: a deterministic signed HEARTBEAT" ||
	bad "node attest --heartbeat --print: $hex"
run "policy get" 0 "" policy get
sent "policy get" 'r["cmd"] == "policy.get" and "args" not in r'
run "policy set" 0 "" policy set concentration_eta=0.3 tiers.1.operators_min=4 price_corridor.below=-0.1
sent "policy set" 'r["cmd"] == "policy.set" and r["args"] == {"params": {"concentration_eta": 0.3, "tiers.1.operators_min": 4, "price_corridor.below": -0.1}, "dry_run": False} and isinstance(r["args"]["params"]["tiers.1.operators_min"], int)'
run "policy set --dry-run" 0 "" policy set --dry-run esg_multiplier.max=2
sent "policy set --dry-run" 'r["args"] == {"params": {"esg_multiplier.max": 2}, "dry_run": True}'
run "policy set out_of_range exits 1" 1 "^faiictl: out_of_range: bad: expected" policy set bad=3
run "residency set" 0 "" residency set CH-only CH,LI EU
sent "residency set (class name resolved through residency.list)" 'r["cmd"] == "residency.set" and r["args"] == {"id": 2, "allow": ["CH", "LI", "EU"]}'
run "residency set unknown class name" 1 "^faiictl: not_found: no residency class named \"Mars\"" residency set Mars CH
run "residency set by id" 0 "" residency set 2 any
sent "residency set by id" 'r["args"] == {"id": 2, "allow": ["any"]}'
run "route explain" 0 "" route explain --region zurich --category 1 --class CH-only --budget-us 5000 --min-reputation 0.5
sent "route explain" 'r["cmd"] == "route.explain" and r["args"] == {"region": "zurich", "category": 1, "class": "CH-only", "budget_us": 5000, "min_reputation": 0.5}'
run "dag vertex" 0 "" dag vertex 12 3
sent "dag vertex" 'r["cmd"] == "dag.vertex" and r["args"] == {"round": 12, "author": 3}'
run "dag submit" 0 "" dag submit 00ff
sent "dag submit" 'r["cmd"] == "dag.submit" and r["args"] == {"hex": "00ff"}'
for c in "residency list:residency.list" "queues:queues" "latency:latency" "counters:counters" "ledger status:ledger.status" \
	"dag status:dag.status" "dag peers:dag.peers" "dag evidence:dag.evidence"; do
	words=${c%%:*} name=${c#*:}
	# shellcheck disable=SC2086
	run "$words" 0 "" $words
	sent "$words" "r['cmd'] == '$name' and 'args' not in r"
done
(cd "$tmp" && "$ctl" --socket "$tmp/sock" config reload --dry-run --path sub/x.yaml >/dev/null)
sent "config reload (relative path made absolute)" "r['cmd'] == 'config.reload' and r['args'] == {'dry_run': True, 'path': '$tmp/sub/x.yaml'}"
run "config reload" 0 "" config reload
sent "config reload" 'r["args"] == {"dry_run": False}'
run "keys reload" 0 "" keys reload
sent "keys reload" 'r["cmd"] == "keys.reload" and r["args"] == {"dry_run": False}'
run "keys reload --dry-run" 0 "" keys reload --dry-run
sent "keys reload --dry-run" 'r["cmd"] == "keys.reload" and r["args"] == {"dry_run": True}'
run "keys reload with an argument" 2 "unexpected argument" keys reload now
FAII_CONTROL_SOCKET=$tmp/sock "$ctl" status >/dev/null 2>&1 && ok "FAII_CONTROL_SOCKET is the default socket" ||
	bad "FAII_CONTROL_SOCKET is the default socket"

# ---- broken servers: exit 3, bounded in time ----
for mode in silent garbage wrong_id close huge; do
	start_mock $mode
	t0=$(date +%s%N)
	"$ctl" --socket "$tmp/sock" --timeout 2 status >/dev/null 2>"$tmp/err"
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	if [ "$rc" -eq 3 ] && [ "$ms" -lt 6000 ]; then
		ok "server $mode: exit 3 in ${ms} ms ($(head -1 "$tmp/err"))"
	else
		bad "server $mode: status $rc in ${ms} ms (want 3, < 6000 ms): $(cat "$tmp/err")"
	fi
done
stop_mock

# ---- the man page ----
man_warn=$(groff -man -ww -z "$root/docs/faiictl.1" 2>&1)
[ -z "$man_warn" ] && ok "groff -man -ww: no warnings" || bad "groff warnings: $man_warn"
if MANWIDTH=80 man -l "$root/docs/faiictl.1" 2>"$tmp/manerr" >"$tmp/man.txt"; then
	missing=
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS COMMANDS "EXIT STATUS" ENVIRONMENT FILES EXAMPLES "SEE ALSO"; do
		grep -q "^$s" "$tmp/man.txt" || missing="$missing $s"
	done
	[ -z "$missing" ] && ok "man -l renders every section" || bad "man page lacks:$missing"
	# Every command of --help is documented in the man page (spaces squeezed:
	# groff's justification spreads a tag line's words by what came before).
	tr -s ' ' <"$tmp/man.txt" >"$tmp/man-words.txt"
	undocumented=
	while read -r words; do
		grep -qF "$words" "$tmp/man-words.txt" || undocumented="$undocumented [$words]"
	done < <("$ctl" --help | sed -n '/^commands:/,/^$/p' | sed '1d;/^$/d' | awk '{print ($2 ~ /^[a-z]+$/) ? $1" "$2 : $1}')
	[ -z "$undocumented" ] && ok "the man page documents every command" ||
		bad "commands missing from the man page:$undocumented"
else
	bad "man -l failed: $(cat "$tmp/manerr")"
fi
exit $fail
