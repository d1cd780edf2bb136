#!/usr/bin/env bash
# faiid's command line: --help, --check on the shipped configurations, and
# refusal (with the loader's message and exit status 1) of a bad one; usage
# errors exit 2. None of these start the EAL.
#   faiid_cli.sh FAIID SOURCE_ROOT
set -uo pipefail
faiid=$1 root=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
expect() { # description, expected status, expected output regex, command...
	local what=$1 want=$2 regex=$3
	shift 3
	local out rc
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -ne "$want" ] || ! grep -qE -- "$regex" <<<"$out"; then
		echo "FAIL: $what: status $rc (want $want), output:"
		echo "$out" | head -20
		fail=1
	else
		echo "ok: $what"
	fi
}

expect "--help" 0 "--control-socket PATH" "$faiid" --help
expect "--help after --" 0 "--ledger-dir DIR" "$faiid" -- --help
expect "demo config checks" 0 "fleet: 240 nodes" "$faiid" -- --config "$root/configs/demo.yaml" --check
expect "example config checks" 0 "configuration valid" \
	"$faiid" -- --config "$root/configs/appliance.example.yaml" --check
expect "overrides win" 0 "control socket /tmp/x.sock, metrics port 9999" \
	"$faiid" -- --config "$root/configs/demo.yaml" --check --control-socket /tmp/x.sock --metrics-port 9999
expect "EAL args from the config" 0 "eal: -l 0-1 --no-huge" \
	"$faiid" -- --config "$root/configs/demo.yaml" --check
expect "EAL args from the command line win" 0 "eal: --no-huge -l 0$" \
	"$faiid" --no-huge -l 0 -- --config "$root/configs/demo.yaml" --check
expect "missing --config" 2 "--config FILE is required" "$faiid" --
expect "no --" 2 "usage:" "$faiid" --config "$root/configs/demo.yaml"
expect "unknown option" 2 "usage:" "$faiid" -- --config "$root/configs/demo.yaml" --bogus
expect "bad metrics port" 2 "expected 1..65535, found 0" \
	"$faiid" -- --config "$root/configs/demo.yaml" --metrics-port 0
expect "missing file" 1 "nope.yaml: cannot open" "$faiid" -- --config "$tmp/nope.yaml"
# A FIFO used to block faiid in open() until a writer came (SIGTERM ignored).
mkfifo "$tmp/fifo.yaml"
expect "a FIFO as --config: refused at once" 1 "fifo.yaml: expected a regular file .*found a FIFO" \
	timeout 10 "$faiid" -- --config "$tmp/fifo.yaml" --check

printf 'policy:\n  concentration_eta: 1.5\n' >"$tmp/bad.yaml"
expect "invalid value refused" 1 \
	"bad.yaml:2:22: policy.concentration_eta: expected a number in \[0, 1\), found \"1.5\"" \
	"$faiid" -- --config "$tmp/bad.yaml"
printf 'policy:\n  etaa: 0.5\n' >"$tmp/unknown.yaml"
expect "unknown key refused" 1 "unknown.yaml:2:3: policy: unknown key \"etaa\"" \
	"$faiid" -- --config "$tmp/unknown.yaml"
# A ledger that cannot be recovered stops the daemon before anything starts.
mkdir -p "$tmp/badledger"
head -c 8192 /dev/zero >"$tmp/badledger/segment-0000000000000001.log"
expect "corrupt ledger refused" 1 "segment-0000000000000000.log: missing segment" \
	"$faiid" -- --config "$root/configs/demo.yaml" --ledger-dir "$tmp/badledger"
exit $fail
