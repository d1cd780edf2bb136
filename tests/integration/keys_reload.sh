#!/usr/bin/env bash
# Key rotation without a restart on a real faiid (demonstration
# configuration, net_ring0, no traffic: the dataplane test
# dataplane/auth_keys_reload_command sends traffic across a rotation):
# `faiictl keys reload` answers counts, epochs and deadlines; a rotation
# (new appliance and client keys, the old ones until a deadline) puts both in
# force and derives the node keys of the new appliance key; an old key whose
# deadline has passed is skipped and counted; a bad file, a world-readable
# file and a FIFO are refused with the file (and line) named and the keys in
# force unchanged; --dry-run changes nothing. Then no key of any key file
# appears in anything faiid or faiictl wrote: outputs, log, audit log.
#   keys_reload.sh FAIID FAIICTL CONFIG FAII_LEDGER GEN_DEMO_CONFIG
set -euo pipefail
# The programs this test runs, checked against scripts/deps.txt.
# shellcheck source=../lib/require.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/require.sh"
require python3
faiid=$1 faiictl=$2 config=$3 faii_ledger=$4 gen_demo_config=$5
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$tmp"' EXIT
# The demonstration configuration with its key files (tests/lib/demo_config.sh).
config=$(bash "$(dirname "${BASH_SOURCE[0]}")/../lib/demo_config.sh" "$gen_demo_config" \
	"$config" "$tmp")
keys=$tmp/demo-keys
sock=$tmp/faii.sock

fail=0
ok() { echo "ok: $1"; }
bad() {
	echo "FAIL: $1"
	fail=1
}
# run NAME WANT_STATUS REGEX ARGS...: faiictl's output (both streams) in $tmp/NAME.
n=0
run() {
	local name=$1 want=$2 regex=$3 rc=0
	shift 3
	n=$((n + 1))
	"$faiictl" --socket "$sock" --timeout 30 "$@" >"$tmp/ctl.$n.out" 2>&1 || rc=$?
	cp "$tmp/ctl.$n.out" "$tmp/$name.out"
	if [ "$rc" -eq "$want" ] && grep -qE -- "$regex" "$tmp/$name.out"; then
		ok "$name (exit $rc)"
	else
		bad "$name: exit $rc (want $want), output: $(head -c 600 "$tmp/$name.out")"
	fi
}
# field NAME PATH: a value of the JSON answer in $tmp/NAME.out (dotted path).
field() {
	python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(json.dumps(v))' "$tmp/$1.out" "$2"
}
eq() { # description, got, want
	if [ "$2" = "$3" ]; then ok "$1 ($2)"; else bad "$1: got '$2', want '$3'"; fi
}

metrics_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$faiid" -l 0-1 --no-huge -m 512 --no-pci --file-prefix "faii-keys-$$" \
	--vdev net_ring0 --log-level lib.eal:warning -- \
	--config "$config" --ledger-dir "$tmp/ledger" --control-socket "$sock" \
	--metrics-port "$metrics_port" >"$tmp/faiid.out" 2>&1 &
pid=$!
up=0
for _ in $(seq 1 150); do
	kill -0 $pid 2>/dev/null || break
	if [ -S "$sock" ] && "$faiictl" --socket "$sock" status >/dev/null 2>&1; then
		up=1
		break
	fi
	sleep 0.2
done
if [ $up -ne 1 ]; then
	cat "$tmp/faiid.out"
	bad "faiid answers on $sock within 30 s"
	exit 1
fi

# The keys in force at start: epoch 1, clients 1..100.
run status0 0 '"keys"' --json status
eq "status: authentication on" "$(field status0 keys.enabled)" true
eq "status: appliance epochs" "$(field status0 keys.appliance.epochs)" "[1]"
eq "status: clients" "$(field status0 keys.clients.clients)" 100
gen0=$(field status0 keys.generation)

# Reading the same files again: the same counts, no node key derived.
run same 0 '"applied": true' --json keys reload
eq "same files: nothing derived" "$(field same nodes.keys_derived)" 0
eq "same files: 100 client keys" "$(field same clients.keys)" 100

# A rotation: epoch 2 current, epoch 1 until a deadline.
"$gen_demo_config" --keys "$keys" --epoch 2 --previous 1 --until 2400-01-01T00:00:00Z
run dry 0 '"applied": false' --json keys reload --dry-run
run status1 0 '"keys"' --json status
eq "a dry run changes nothing" "$(field status1 keys.appliance.epochs)" "[1]"
run rotate 0 '"applied": true' --json keys reload
eq "rotation: appliance epochs" "$(field rotate appliance.epochs)" "[2, 1]"
eq "rotation: the previous key expires" "$(field rotate appliance.expiring)" 1
eq "rotation: 200 client keys, 100 expiring" \
	"$(field rotate clients.keys) $(field rotate clients.expiring)" "200 100"
eq "rotation: deadline 2400-01-01" "$(field rotate next_deadline_unix)" 13569465600.0
eq "rotation: the new key's node keys derived, for 240 nodes" "$(field rotate nodes.keys_derived)" 240
run table 0 'keys_derived +0' keys reload
grep -q 'epochs' "$tmp/table.out" && ok "the table names the epochs" || bad "table: $(cat "$tmp/table.out")"

# A previous key past its deadline is skipped and counted.
"$gen_demo_config" --keys "$keys" --epoch 2 --previous 1 --until 2001-09-09T01:46:40Z
run expired 0 '"applied": true' --json keys reload
eq "expired: skipped, counted" \
	"$(field expired appliance.expired_skipped) $(field expired clients.expired_skipped)" "1 100"
eq "expired: only epoch 2" "$(field expired appliance.epochs)" "[2]"
run status2 0 '"keys"' --json status
gen2=$(field status2 keys.generation)

# Refused files: named (with the line), and the keys in force stay.
cp "$keys/clients.keys" "$tmp/clients.good"
echo "7 1 0123456789" >>"$keys/clients.keys"
lines=$(wc -l <"$keys/clients.keys")
run bad_line 1 "keys_invalid: .*clients.keys:$lines: expected" keys reload
cp "$tmp/clients.good" "$keys/clients.keys"
chmod 0644 "$keys/appliance.key"
run world_readable 1 "keys_invalid: .*appliance.key: a key file must be .*chmod 600" keys reload
chmod 0600 "$keys/appliance.key"
mv "$keys/appliance.key" "$tmp/appliance.good"
mkfifo -m 0600 "$keys/appliance.key"
run fifo 1 "keys_invalid: .*appliance.key: a key file must be a regular file" keys reload
rm "$keys/appliance.key"
mv "$tmp/appliance.good" "$keys/appliance.key"
run status3 0 '"keys"' --json status
eq "refusals published nothing" "$(field status3 keys.generation)" "$gen2"
eq "refusals counted" "$(field status3 keys.reloads_failed)" 3
eq "the keys in force stay" "$(field status3 keys.appliance.epochs)" "[2]"
[ "$gen2" -gt "$gen0" ] && ok "rotations published new sets ($gen0 -> $gen2)" || bad "generation $gen0 -> $gen2"

# Stop cleanly; the audit log holds every keys.reload.
kill -TERM $pid
rc=0
wait $pid || rc=$?
pid=
eq "faiid exit status after SIGTERM" "$rc" 0
"$faii_ledger" dump "$tmp/ledger" >"$tmp/dump" 2>&1 || true
audited=$(grep -c 'keys.reload' "$tmp/dump" || true)
eq "every keys.reload audited" "$audited" 8

# No key of any key file written anywhere: faiid's output, faiictl's, the
# audit log. The keys: every 64-hex-digit word of every key file written.
for e in 1 2; do
	"$gen_demo_config" --keys "$tmp/all-$e" --epoch $e >/dev/null
done
grep -hoE '\b[0-9a-f]{64}\b' "$tmp"/all-*/* "$keys"/* | sort -u >"$tmp/secrets"
eq "secrets to look for" "$(wc -l <"$tmp/secrets")" 202
leaks=$(cat "$tmp/faiid.out" "$tmp"/ctl.*.out "$tmp/dump" | grep -cFf "$tmp/secrets" || true)
eq "no key in any output or log" "$leaks" 0
exit $fail
