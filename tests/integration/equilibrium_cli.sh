#!/usr/bin/env bash
# faii-equilibrium (docs/equilibrium.md): a two-class scenario reaches the
# hand-computed equilibrium; on the built-in scenario the flat and the
# performance schedules concentrate in one class while the hybrid keeps
# three, and the hybrid without its routing cap keeps two; the JSON has the
# documented shape and is the same on every run; the printed scenario reads
# back to the same result; bad scenario files are refused naming the file
# and the field; the SVG plots parse and are labelled.
#   equilibrium_cli.sh FAII_EQUILIBRIUM CHECKER
set -uo pipefail
# shellcheck source=../lib/require.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/require.sh"
require python3 cmp grep
tool=$1 check=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
ok() { echo "ok: $1"; }
bad() {
	echo "FAIL: $1"
	fail=1
}
# checked: description, checker arguments...
checked() {
	local what=$1
	shift
	if python3 "$check" "$@"; then ok "$what"; else bad "$what"; fi
}

if "$tool" --help >"$tmp/help" && grep -q SYNOPSIS "$tmp/help" && grep -q -- --scenario "$tmp/help"; then
	ok "--help"
else
	bad "--help"
fi

"$tool" --json >"$tmp/default.json" || bad "default run exits 0"
checked "default: flat and performance concentrate in XL, hybrid keeps >= 3 classes" \
	default "$tmp/default.json"
"$tool" --json >"$tmp/again.json"
if cmp -s "$tmp/default.json" "$tmp/again.json"; then ok "same output on every run"; else bad "runs differ"; fi

"$tool" --print-scenario >"$tmp/scenario.json"
"$tool" --scenario "$tmp/scenario.json" --json >"$tmp/printed.json"
if cmp -s "$tmp/default.json" "$tmp/printed.json"; then
	ok "the printed scenario reads back to the same result"
else
	bad "the printed scenario gives another result"
fi

python3 "$check" set "$tmp/scenario.json" "$tmp/mdiv.json" schedules.2.diversity.routing_cap false
"$tool" --scenario "$tmp/mdiv.json" --json >"$tmp/mdiv.out" || bad "m_DIV-only run exits 0"
checked "hybrid with m_DIV alone keeps two classes" mdiv_only "$tmp/mdiv.out"

# Two classes, each alone in its tier: A serves 1000 units at cost 12 per
# node, B 700 units at cost 12 (capex 100 x amortisation 0.12, nothing else).
# Free entry: n_A = 83 (1000/83 - 12 > 0 >= 1000/84 - 12), n_B = 58; no
# switch pays (1000/84 and 700/59 are below 12); 200 - 141 = 59 stay out.
cat >"$tmp/two.json" <<'EOF'
{"name": "two classes", "seed": 7, "iterations": 500, "revision_share": 0.2,
 "market": {"demand": [1000, 700, 0, 0], "energy_price": 0, "amortisation": 0.12},
 "classes": [
  {"name": "A", "capacity": 50, "capex": 100, "success": [1, 1, 1, 1],
   "eligible": [true, false, false, false]},
  {"name": "B", "capacity": 100, "capex": 100, "success": [1, 1, 1, 1],
   "eligible": [false, true, false, false]}],
 "investors": [{"name": "all", "count": 200, "budget": 100}],
 "schedules": [{"name": "flat", "work_rate": 1}]}
EOF
"$tool" --scenario "$tmp/two.json" --json >"$tmp/two.out" || bad "two-class run exits 0"
checked "two classes reach the hand-computed equilibrium (83, 58; 59 out)" two_class "$tmp/two.out"

# refused_file: description, file, stderr regex (after "FILE: ")
# shellcheck source=../lib/refused_file.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/refused_file.sh"
# refused: description, field path, JSON value (or DELETE), stderr regex
refused() {
	python3 "$check" set "$tmp/scenario.json" "$tmp/bad.json" "$2" "$3"
	refused_file "$1" "$tmp/bad.json" "$4"
}
refused "negative capex" classes.1.capex -5 'classes\[1\]\.capex: must be a number in \(0,'
refused "missing capex" classes.0.capex DELETE 'classes\[0\]\.capex: missing'
refused "unknown field" classes.0.capx 1 'classes\[0\]\.capx: unknown field'
refused "success above 1" classes.2.success '[1, 1, 1.5, 1]' 'classes\[2\]\.success\[2\]: must be'
refused "fractional SLO exponent" schedules.1.slo.alpha '[1, 1.5, 1, 1]' \
	'schedules\[1\]\.slo\.alpha\[1\]: must be an integer'
refused "eta of 1" schedules.2.diversity.eta 1 'schedules\[2\]\.diversity\.eta: must be'
refused "no investors" investors '[]' 'investors: must be an array of 1 to'
refused "string count" investors.0.count '"ten"' 'investors\[0\]\.count: must be a number'
refused "bad initial" initial '"sideways"' 'initial: must be "random" or "out"'
refused "no tier eligible" classes.0.eligible '[false, false, false, false]' \
	'classes\[0\]\.eligible: a class must be eligible'
refused "a budget buying too many nodes" investors.0.budget 1e11 \
	'investors\[0\]\.budget: buys more than 10000 nodes of micro'
printf '{"seed": 1,' >"$tmp/bad.json"
refused_file "truncated JSON, with line and column" "$tmp/bad.json" 'line 1, column'
refused_file "missing file" "$tmp/absent.json" 'No such file'

mkdir "$tmp/svg"
"$tool" --svg "$tmp/svg" >/dev/null || bad "--svg exits 0"
if [ "$(find "$tmp/svg" -name 'equilibrium-*.svg' | wc -l)" -eq 3 ]; then
	ok "one SVG per schedule"
else
	bad "SVG files: $(ls "$tmp/svg")"
fi
checked "SVG plots parse, one area per class, axes and legend labelled" \
	svg "$tmp/svg" micro S M L XL
"$tool" --svg "$tmp/no/such/dir" >/dev/null 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "equilibrium-flat.svg" "$tmp/err"; then
	ok "an unwritable SVG directory is an error"
else
	bad "unwritable SVG directory: status $rc"
fi
exit "$fail"
