#!/usr/bin/env bash
# faii-settle (docs/settlement.md, "faii-settle"): the worked epoch of
# docs/settlement.md and one hand-computed epoch per clamp (settle_check.py),
# each with conservation, the leaf rule, and the root and every proof
# against an independent Python tree; --proof NODE prints what `faiictl
# payout verify -` accepts; bad scenarios are refused with status 2, naming
# the file and the JSON path; --help and the man page.
#   faii_settle_cli.sh FAII_SETTLE FAIICTL CHECKER WORKED.json SOURCE_ROOT
set -uo pipefail
# shellcheck source=../lib/require.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/require.sh"
require python3 groff man cmp grep
tool=$1 ctl=$2 check=$3 worked=$4 root=$5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
ok() { echo "ok: $1"; }
bad() {
	echo "FAIL: $1"
	fail=1
}

if "$tool" --help >"$tmp/help" && grep -q SYNOPSIS "$tmp/help" && grep -q -- --proof "$tmp/help"; then
	ok "--help"
else
	bad "--help"
fi

# Every hand-computed epoch: the checker writes the scenarios, faii-settle
# computes them, the checker checks the outputs (one line per case).
mkdir "$tmp/cases"
python3 "$check" scenarios "$worked" "$tmp/cases"
for scenario in "$tmp"/cases/*.json; do
	"$tool" --scenario "$scenario" >"${scenario%.json}.out" ||
		bad "$(basename "$scenario") exits $?"
done
python3 "$check" check "$worked" "$tmp/cases" || fail=1

"$tool" --scenario "$worked" >"$tmp/full.json" || bad "the worked epoch exits 0"
"$tool" --scenario "$worked" >"$tmp/again.json"
if cmp -s "$tmp/full.json" "$tmp/again.json"; then ok "same output on every run"; else bad "runs differ"; fi
# The printed params are the exact form: read back, the same epoch (and
# through stdin).
python3 "$check" readback "$worked" "$tmp/full.json" "$tmp/readback.json"
if "$tool" --scenario - <"$tmp/readback.json" >"$tmp/again.json" &&
	cmp -s "$tmp/full.json" "$tmp/again.json"; then
	ok "the printed params read back to the same epoch"
else
	bad "the printed params give another epoch"
fi

# --proof NODE: the full output's proof, and faiictl verifies it offline.
for node in 1 2 3; do
	if "$tool" --scenario "$worked" --proof "$node" >"$tmp/proof.json" &&
		python3 "$check" proof "$tmp/full.json" "$tmp/proof.json" "$node" &&
		"$ctl" payout verify - <"$tmp/proof.json" >"$tmp/verify" &&
		grep -q "^valid: node $node " "$tmp/verify"; then
		ok "--proof $node | faiictl payout verify -: $(cat "$tmp/verify")"
	else
		bad "--proof $node: $(cat "$tmp/verify" 2>/dev/null)"
	fi
done
# A claim of more than the epoch paid C (40 000), its leaf re-encoded to
# agree, does not verify.
python3 "$check" forge "$tmp/proof.json" "$tmp/forged.json" 40001
if ! "$ctl" payout verify - <"$tmp/forged.json" >"$tmp/verify" &&
	grep -q "does not hash up to the root" "$tmp/verify"; then
	ok "a larger claim is refused: $(cat "$tmp/verify")"
else
	bad "a larger claim: $(cat "$tmp/verify")"
fi

# usage: description, expected status, stderr regex, arguments...
usage() {
	local what=$1 want=$2 regex=$3 rc
	shift 3
	"$tool" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq "$want" ] && grep -qE -- "$regex" "$tmp/err" && [ ! -s "$tmp/out" ]; then
		ok "$what: status $rc"
	else
		bad "$what: status $rc, stderr: $(cat "$tmp/err")"
	fi
}
usage "no --scenario" 2 'scenario FILE is required'
usage "--proof of a node not in the scenario" 1 'no node 99 in the scenario' \
	--scenario "$worked" --proof 99
usage "--proof of a word" 2 'expected a node id' --scenario "$worked" --proof x
if "$tool" --scenario "$worked" >/dev/full 2>"$tmp/err"; then
	bad "a full disk went unnoticed"
else
	rc=$?
	if [ "$rc" -eq 1 ] && grep -q "cannot write the output" "$tmp/err"; then
		ok "an output that cannot be written: status 1"
	else
		bad "output to /dev/full: status $rc"
	fi
fi
# Node 1 (micro) under a cap of 0 is paid nothing and has no leaf.
printf '%s\t%s\t%s\n' "$tmp/nocap.json" params.payout_cap.micro 0 | python3 "$check" mutate "$worked"
usage "--proof of a node without a leaf" 1 'node 1 has no leaf' --scenario "$tmp/nocap.json" \
	--proof 1

# refused_file: description, file, stderr regex (after "FILE: ")
# shellcheck source=../lib/refused_file.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/refused_file.sh"
# refused: description, stderr regex, then pairs of a field path and a JSON
# value (or DELETE): the worked epoch changed so. Queued here, written by
# one Python run (settle_check.py mutate), then each run.
specs=()
refused() {
	local what=$1 regex=$2 IFS=$'\t'
	shift 2
	specs+=("$what"$'\t'"$regex"$'\t'"$*")
}
refused "negative work" 'nodes\[1\]\.work\[2\]: expected an integer >= 0$' nodes.1.work.2 -1
refused "fractional work" 'nodes\[0\]\.work\[0\]: expected an integer >= 0$' nodes.0.work.0 1.5
refused "three tiers of work" 'nodes\[0\]\.work: expected an array of 4 values, one per tier' \
	nodes.0.work '[1, 2, 3]'
refused "availability above 1" 'nodes\[2\]\.availability: expected a number in 0\.\.1$' \
	nodes.2.availability 1.5
refused "success above 1 by less than a ppb" \
	'nodes\[0\]\.slo_success\[2\]: expected a number in 0\.\.1$' \
	nodes.0.slo_success '[0.95, 0.95, 1.0000000006, 0.95]'
refused "missing SLO success" \
	'nodes\[1\]\.slo_success: missing \(give "slo_success" or "slo_success_ppb"\)' \
	nodes.1.slo_success DELETE
refused "missing node id" 'nodes\[1\]\.node_id: missing$' nodes.1.node_id DELETE
refused "unknown node field" 'nodes\[0\]\.wrok: unknown field' nodes.0.wrok '[1, 2, 3, 4]'
refused "unknown class" 'nodes\[2\]\.class: expected one of "micro"' nodes.2.class '"xxl"'
refused "a node id twice" "nodes\\[2\\]\\.node_id: 1 is also nodes\\[0\\]'s" nodes.2.node_id 1
refused "a node id beyond 32 bits" 'nodes\[0\]\.node_id: expected an integer in 0\.\.4294967295$' \
	nodes.0.node_id 4294967296
refused "xi of 1" 'params\.esg_xi: expected a number in 0\.\.0\.999999999$' params.esg_xi 1
refused "an SLO exponent of 9" 'params\.slo_alpha\[1\]: expected an integer in 1\.\.8$' \
	params.slo_alpha '[1, 9, 1, 1]'
refused "a fractional SLO exponent" 'params\.slo_alpha\[1\]: expected an integer in 1\.\.8$' \
	params.slo_alpha '[1, 1.5, 1, 1]'
refused "m_bar_ESG below 1" 'params\.esg_max: expected a number in 1\.\.100$' params.esg_max 0.99
refused "theta0 in both forms" \
	'params\.theta0: give one of "theta0_ppb" and "theta0", not both' \
	params.theta0_ppb '[1, 2, 3, 4]'
refused "a cap for an unknown class" 'params\.payout_cap\.xxl: unknown class' \
	params.payout_cap.xxl 5
refused "a negative cap" 'params\.payout_cap\.xl: expected an integer >= 0$' \
	params.payout_cap.xl -5
refused "an unknown parameter" 'params\.eta: unknown field' params.eta 0.5
refused "an epoch in words" 'epoch: expected an integer >= 0$' epoch '"seven"'
refused "no epoch" 'epoch: missing$' epoch DELETE
refused "no nodes" 'nodes: missing$' nodes DELETE
refused "an unknown top-level field" 'param: unknown field' param '{}'
refused "s_bar of 0" 'params\.class_share_max_ppb: expected an integer in 1\.\.999999999$' \
	params.class_share_max DELETE params.class_share_max_ppb 0
refused "a negative price in tokens" \
	'params\.energy_price_tokens: expected a number of tokens >= 0$' \
	params.energy_price DELETE params.energy_price_tokens -1
refused "a green energy price above the energy price" \
	'params: settlement refuses energy_price_green \(it may not exceed energy_price\)$' \
	params.energy_price 1 params.energy_price_green 2
# Amounts beyond what a JSON integer carries: 2^62 work units x 10 leave
# 64 bits; x 3 fit 64 bits but not 63.
refused "an amount beyond 64 bits" "the epoch's amounts \(before m_DIV\) exceed 2\\^63 - 1" \
	nodes.0.work.0 4611686018427387904
refused "an amount beyond 63 bits" "the epoch's amounts \(before m_DIV\) exceed 2\\^63 - 1" \
	nodes.0.work.0 4611686018427387904 params.work_rate 3
# Node 1's base and node 2's performance fit 64 bits (1.2e19 each), so do
# the totals of base and of performance, but the total withheld (2.4e19,
# caps of 0) does not: faii_settle_epoch() itself aborts on its conservation
# assertion (ledger/settle/payout.c); faii-settle refuses first.
refused "withheld totals beyond 64 bits" "the epoch's amounts \(before m_DIV\) exceed 2\\^63 - 1" \
	params.availability_rate 4000000000000000000 params.work_rate 4000000000000000000 \
	params.payout_cap '{"micro": 0, "s": 0, "m": 0, "l": 0, "xl": 0}' \
	nodes.0.capacity_units 3 nodes.0.work '[0, 0, 0, 0]' nodes.0.availability 1 \
	nodes.1.capacity_units 0 nodes.1.work '[3, 0, 0, 0]' params.energy_price 0 \
	params.opex_price 0 params.penalty_price 0 params.diversity_eta 0 \
	nodes.2.capacity_units 0 nodes.2.work '[0, 0, 0, 0]'
refused "a cumulative amount beyond 63 bits" \
	"nodes\\[2\\]\\.cumulative_before: with this epoch's payout beyond 2\\^63 - 1" \
	nodes.2.cumulative_before 9223372036854775807
for i in "${!specs[@]}"; do
	IFS=$'\t' read -r _ _ pairs <<<"${specs[$i]}"
	printf '%s\t%s\n' "$tmp/bad$i.json" "$pairs"
done | python3 "$check" mutate "$worked"
for i in "${!specs[@]}"; do
	IFS=$'\t' read -r what regex _ <<<"${specs[$i]}"
	refused_file "$what" "$tmp/bad$i.json" "$regex"
done
printf '{"epoch": 1, "epoch": 2, "nodes": []}' >"$tmp/bad.json"
refused_file "a key twice" "$tmp/bad.json" 'line 1, column .*duplicate object key'
printf '{"epoch": 1,' >"$tmp/bad.json"
refused_file "truncated JSON, with line and column" "$tmp/bad.json" 'line 1, column'
refused_file "missing file" "$tmp/absent.json" 'No such file'

# An empty fleet: no leaves, the empty tree's root H(0x02 | 0 u64).
printf '{"epoch": 3, "nodes": []}' >"$tmp/empty.json"
empty_root=$(python3 -c 'import hashlib; print(hashlib.blake2b(b"\x02" + bytes(8), digest_size=32).hexdigest())')
if "$tool" --scenario "$tmp/empty.json" >"$tmp/out" && grep -q "\"root\": \"$empty_root\"" "$tmp/out" &&
	grep -q '"leaves": 0' "$tmp/out"; then
	ok "an empty fleet has the empty tree's root"
else
	bad "empty fleet: $(cat "$tmp/out")"
fi

# The man page: groff -ww prints no warning and man -l renders every section.
man_warn=$(groff -man -ww -z "$root/docs/faii-settle.1" 2>&1)
[ -z "$man_warn" ] && ok "groff -man -ww: no warnings" || bad "groff warnings: $man_warn"
if MANWIDTH=80 man -l "$root/docs/faii-settle.1" 2>"$tmp/manerr" >"$tmp/man.txt"; then
	missing=
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
		grep -q "^$s" "$tmp/man.txt" || missing="$missing $s"
	done
	[ -z "$missing" ] && ok "man -l renders every section" || bad "man page lacks:$missing"
else
	bad "man -l failed: $(cat "$tmp/manerr")"
fi
exit "$fail"
