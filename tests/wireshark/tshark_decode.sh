#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Decodes a capture written with the project's own encoders (pcap_writer) with
# the faii Lua dissector, and asserts what tshark shows: the value, the byte
# position and size of every field of every message type, the value-string
# labels, the Info column, the drop reason and expert item of malformed
# messages, and the port preference. Runs as root, offline, without a display.
#
# Usage: tshark_decode.sh PCAP_WRITER FAII_LUA
set -uo pipefail
# The programs this test runs, checked against scripts/deps.txt.
# shellcheck source=../lib/require.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/require.sh"
require tshark awk

if (($# != 2)); then
	echo "usage: $0 PCAP_WRITER FAII_LUA" >&2
	exit 2
fi
writer=$1
lua=$2
if [[ ! -r $lua ]]; then
	echo "FAIL: dissector $lua not readable" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A private, empty configuration: no user preferences, no user plugins.
export HOME=$tmp/home XDG_CONFIG_HOME=$tmp/home/.config
mkdir -p "$HOME"
unset DISPLAY WAYLAND_DISPLAY

pcap=$tmp/faii.pcap
if ! "$writer" "$pcap" >"$tmp/writer.out" 2>&1; then
	echo "FAIL: pcap_writer failed:" >&2
	cat "$tmp/writer.out" >&2
	exit 1
fi

# -n: no name resolution (no network); checksum validation on, so that the
# capture's own IPv4 and UDP checksums are checked too.
tshark_run() {
	tshark -n -r "$pcap" -X lua_script:"$lua" \
		-o ip.check_checksum:TRUE -o udp.check_checksum:TRUE "$@"
}

if ! tshark_run -T pdml >"$tmp/decode.pdml" 2>"$tmp/tshark.err"; then
	echo "FAIL: tshark -T pdml failed:" >&2
	cat "$tmp/tshark.err" >&2
	exit 1
fi
# The Info column: _ws.col.Info up to Wireshark 4.0, _ws.col.info after.
for col in _ws.col.Info _ws.col.info; do
	if tshark_run -T fields -e frame.number -e "$col" >"$tmp/info.tsv" 2>"$tmp/info.err" &&
		grep -q $'\t.' "$tmp/info.tsv"; then
		break
	fi
done

# One line per field: packet, name, show, value, pos, size, showname.
awk '
function attr(line, key,    m) {
	if (match(line, " " key "=\"[^\"]*\"")) {
		m = substr(line, RSTART + length(key) + 3, RLENGTH - length(key) - 4)
		gsub(/&quot;/, "\"", m); gsub(/&#x27;/, "\047", m); gsub(/&lt;/, "<", m)
		gsub(/&gt;/, ">", m); gsub(/&amp;/, "\\&", m)
		return m
	}
	return ""
}
/<packet>/ { pkt++ }
/<(field|proto) name="/ {
	printf "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", pkt, attr($0, "name"), attr($0, "show"),
		attr($0, "value"), attr($0, "pos"), attr($0, "size"), attr($0, "showname")
}' "$tmp/decode.pdml" >"$tmp/fields.tsv"

declare -A SHOW VALUE POS SIZE LABEL COUNT NAMES INFO
while IFS=$'\t' read -r pkt name show value pos size showname; do
	key=$pkt/$name
	COUNT[$key]=$((${COUNT[$key]:-0} + 1))
	NAMES[$pkt]+=" $name"
	if ((COUNT[$key] == 1)); then
		SHOW[$key]=$show VALUE[$key]=$value POS[$key]=$pos SIZE[$key]=$size LABEL[$key]=$showname
	fi
done <"$tmp/fields.tsv"
while IFS=$'\t' read -r pkt info; do
	INFO[$pkt]=$info
done <"$tmp/info.tsv"

passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() {
	failed=$((failed + 1))
	echo "FAIL: frame $1: $2" >&2
}

# Offset of the faii message in frame N: Ethernet + IPv4 or IPv6 + UDP.
declare -A MSG_OFF=([2]=62 [7]=62)
msg_off() { echo "${MSG_OFF[$1]:-42}"; }

# field N NAME OFFSET SIZE EXPECTED: NAME occurs once in frame N, at OFFSET
# (from the start of the faii message) for SIZE bytes, and shows EXPECTED.
# EXPECTED "hex:..." is compared with the raw bytes instead.
field() {
	local n=$1 name=$2 off=$3 size=$4 want=$5 key=$1/$2 got what
	if [[ -z ${COUNT[$key]:-} ]]; then
		fail "$n" "$name missing, want '$want'"
		return
	fi
	if ((COUNT[$key] != 1)); then
		fail "$n" "$name occurs ${COUNT[$key]} times"
		return
	fi
	if [[ $want == hex:* ]]; then
		got=${VALUE[$key]} want=${want#hex:} what=bytes
	else
		got=${SHOW[$key]} what=value
	fi
	if [[ $got != "$want" ]]; then
		fail "$n" "$name $what is '$got', want '$want'"
		return
	fi
	local want_pos=$(($(msg_off "$n") + off))
	if [[ ${POS[$key]} != "$want_pos" || ${SIZE[$key]} != "$size" ]]; then
		fail "$n" "$name at pos ${POS[$key]} size ${SIZE[$key]}, want pos $want_pos size $size"
		return
	fi
	pass
}

# label N NAME TEXT: the displayed line of NAME (value strings, bit fields).
label() {
	local key=$1/$2
	if [[ ${LABEL[$key]:-<missing>} == "$3" ]]; then pass; else
		fail "$1" "$2 label is '${LABEL[$key]:-<missing>}', want '$3'"
	fi
}

# value N NAME EXPECTED: a field without a fixed position (generated fields,
# fields of other protocols).
value() {
	local key=$1/$2
	if [[ ${SHOW[$key]:-<missing>} == "$3" ]]; then pass; else
		fail "$1" "$2 is '${SHOW[$key]:-<missing>}', want '$3'"
	fi
}

absent() {
	if [[ -z ${COUNT[$1/$2]:-} ]]; then pass; else
		fail "$1" "$2 present ('${SHOW[$1/$2]}'), want absent"
	fi
}

info() {
	if [[ ${INFO[$1]:-<missing>} == "$2" ]]; then pass; else
		fail "$1" "Info column is '${INFO[$1]:-<missing>}', want '$2'"
	fi
}

# verdict N REASON: faii.drop_reason, and exactly the matching expert item
# (none for "ok").
verdict() {
	local n=$1 reason=$2 experts=() name
	value "$n" faii.drop_reason "$reason"
	for name in ${NAMES[$n]:-}; do
		[[ $name == faii.drop.* ]] && experts+=("$name")
	done
	local want=()
	[[ $reason != ok ]] && want=("faii.drop.$reason")
	if [[ "${experts[*]:-}" == "${want[*]:-}" ]]; then pass; else
		fail "$n" "expert items '${experts[*]:-}', want '${want[*]:-}'"
	fi
}

# header N TYPE LENGTH FLAGS: the 8-byte header of a well-formed message.
header() {
	field "$1" faii.magic 0 2 0xfa11
	field "$1" faii.version 2 1 1
	field "$1" faii.type 3 1 "$2"
	field "$1" faii.length 4 2 "$3"
	field "$1" faii.flags 6 1 "$4"
	field "$1" faii.reserved 7 1 0x00
}

# The capture's own IP and UDP checksums, to trust the frames themselves.
checksums() {
	local n
	for n in "$@"; do
		if [[ ${MSG_OFF[$n]:-42} == 42 ]]; then value "$n" ip.checksum.status 1; fi
		value "$n" udp.checksum.status 1
	done
}

PUBKEY=03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8

# --- Frame 1: TASK over IPv4, dispatched replica -----------------------------
header 1 1 69 0x03
label 1 faii.type "Type: TASK (1)"
value 1 faii.flags.dispatched 1
value 1 faii.flags.replica 1
value 1 faii.flags.undefined 0x00
label 1 faii.flags.dispatched ".... ...1 = DISPATCHED: True"
label 1 faii.flags.replica ".... ..1. = REPLICA: True"
field 1 faii.task.task_id 8 8 0x1122334455667788
field 1 faii.task.client_id 16 8 0xa1b2c3d4e5f60718
field 1 faii.task.submit_ts_ns 24 8 1700000000123456789
field 1 faii.task.dispatch_ts_ns 32 8 1700000000223456789
field 1 faii.task.node_id 40 4 11259375
field 1 faii.task.latency_budget_us 44 4 250000
field 1 faii.task.origin_region 48 2 291
field 1 faii.task.residency_class 50 2 42
field 1 faii.task.min_reputation_milli 52 2 750
field 1 faii.task.payload_len 54 2 5
field 1 faii.task.category 56 1 4
label 1 faii.task.category "Category: interactive_inference (4)"
field 1 faii.task.tier 57 1 3
field 1 faii.task.consistency 58 1 1
label 1 faii.task.consistency "Consistency: session (1)"
field 1 faii.task.replica_index 59 1 2
field 1 faii.task.attempt 60 1 1
field 1 faii.task.reserved 61 3 hex:000000
field 1 faii.task.payload 64 5 hex:68656c6c6f
label 1 faii.task.submit_ts_ns "Submit timestamp (ns): 1700000000123456789 (2023-11-14 22:13:20.123456789 UTC)"
verdict 1 ok
info 1 "TASK id=0x1122334455667788 cat=interactive_inference tier=3 cons=session node=11259375 replica=2 attempt=1"

# --- Frame 2: TASK over IPv6, from a client ----------------------------------
header 2 1 80 0x00
value 2 ipv6.dst 2001:db8::2
value 2 faii.flags.dispatched 0
value 2 faii.flags.replica 0
field 2 faii.task.task_id 8 8 0x0102030405060708
field 2 faii.task.client_id 16 8 0x0000000000c11e47
field 2 faii.task.submit_ts_ns 24 8 1700000000123456789
field 2 faii.task.dispatch_ts_ns 32 8 0
field 2 faii.task.node_id 40 4 0
field 2 faii.task.latency_budget_us 44 4 5000
field 2 faii.task.origin_region 48 2 1023
field 2 faii.task.residency_class 50 2 63
field 2 faii.task.min_reputation_milli 52 2 0
field 2 faii.task.payload_len 54 2 16
field 2 faii.task.category 56 1 1
label 2 faii.task.category "Category: edge_inference (1)"
field 2 faii.task.tier 57 1 1
field 2 faii.task.consistency 58 1 0
label 2 faii.task.consistency "Consistency: eventual (0)"
field 2 faii.task.replica_index 59 1 0
field 2 faii.task.attempt 60 1 0
field 2 faii.task.reserved 61 3 hex:000000
field 2 faii.task.payload 64 16 hex:c0ffee00000000000000000000000001
verdict 2 ok
info 2 "TASK id=0x0102030405060708 cat=edge_inference tier=1"

# --- Frame 3: RESULT ---------------------------------------------------------
header 3 2 79 0x00
label 3 faii.type "Type: RESULT (2)"
field 3 faii.result.task_id 8 8 0x1122334455667788
field 3 faii.result.dispatch_ts_ns 16 8 1700000000223456789
field 3 faii.result.node_id 24 4 11259375
field 3 faii.result.exec_time_us 28 4 12345
field 3 faii.result.status 32 1 1
label 3 faii.result.status "Status: error (1)"
field 3 faii.result.replica_index 33 1 2
field 3 faii.result.payload_len 34 2 7
field 3 faii.result.reserved 36 4 0x00000000
field 3 faii.result.result_hash 40 32 hex:a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf
field 3 faii.result.payload 72 7 hex:726573756c7421
verdict 3 ok
info 3 "RESULT id=0x1122334455667788 status=error node=11259375 replica=2"

# --- Frame 4: HEARTBEAT ------------------------------------------------------
header 4 3 128 0x00
label 4 faii.type "Type: HEARTBEAT (3)"
field 4 faii.heartbeat.node_id 8 4 11259375
field 4 faii.heartbeat.seq 12 4 16909060
field 4 faii.heartbeat.timestamp_ns 16 8 1700000001000000000
field 4 faii.heartbeat.uptime_s 24 8 259207
field 4 faii.heartbeat.tasks_completed 32 8 4294967298
field 4 faii.heartbeat.tasks_failed 40 8 17
field 4 faii.heartbeat.outstanding_tasks 48 4 9
field 4 faii.heartbeat.queue_depth 52 4 33
field 4 faii.heartbeat.load_permille 56 4 625
field 4 faii.heartbeat.reserved 60 4 0x00000000
field 4 faii.heartbeat.signature 64 64 hex:e21ffbecbc97e622cca35051b6aabe055b9c3e4698496df20bd618009703fe1df962470c4458e9c4ad00d505aab290921ca8d99039f0fe2d69bb1837716f860b
verdict 4 ok
info 4 "HEARTBEAT node=11259375 seq=16909060 load=62.5% queue=33"

# --- Frame 5: ATTEST ---------------------------------------------------------
header 5 4 140 0x00
label 5 faii.type "Type: ATTEST (4)"
field 5 faii.attest.node_id 8 4 11259375
field 5 faii.attest.seq 12 4 77
field 5 faii.attest.timestamp_ns 16 8 1700000002000000000
field 5 faii.attest.meter_id 24 8 0xdeadbeefcafef00d
field 5 faii.attest.interval_start_s 32 8 1700000000
field 5 faii.attest.interval_s 40 4 900
field 5 faii.attest.energy_wh 44 4 4321
field 5 faii.attest.pue_milli 48 4 1150
field 5 faii.attest.energy_to_work_milli 52 4 2500
field 5 faii.attest.grid_stress_permille 56 2 300
field 5 faii.attest.source_mix.solar 58 2 400
field 5 faii.attest.source_mix.wind 60 2 250
field 5 faii.attest.source_mix.hydro 62 2 100
field 5 faii.attest.source_mix.geothermal 64 2 50
field 5 faii.attest.source_mix.biomass 66 2 40
field 5 faii.attest.source_mix.hydrogen 68 2 30
field 5 faii.attest.source_mix.waste 70 2 20
field 5 faii.attest.source_mix.nonrenewable 72 2 110
value 5 faii.attest.source_mix.sum 1000
value 5 faii.attest.source_mix.renewable 890
field 5 faii.attest.reserved 74 2 0x0000
field 5 faii.attest.signature 76 64 hex:8b8e08627e6c6dbec82412cc7708df07468ce2cdaa5a2be836623e68ceeaf0b67340478953520b4e41b9b7ff60df82cc35250f110b601295b8984e2840c5ba06
label 5 faii.attest.pue_milli "PUE (1/1000): 1150 (1.150)"
verdict 5 ok
info 5 "ATTEST node=11259375 seq=77 energy=4321Wh pue=1.150"

# --- Frame 6: REGISTER, IPv4 address -----------------------------------------
header 6 5 160 0x00
label 6 faii.type "Type: REGISTER (5)"
field 6 faii.register.node_id 8 4 11259375
field 6 faii.register.operator_id 12 4 0x00c0ffee
field 6 faii.register.asn 16 4 64512
field 6 faii.register.capacity_tasks_per_s 20 4 1200
field 6 faii.register.price_micro 24 4 350
field 6 faii.register.region 28 2 291
field 6 faii.register.node_class 30 1 3
label 6 faii.register.node_class "Node class: large (3)"
field 6 faii.register.eligibility 31 1 0x2d
value 6 faii.register.eligibility.edge_inference 1
value 6 faii.register.eligibility.storage_shard 0
value 6 faii.register.eligibility.dag_validation 1
value 6 faii.register.eligibility.interactive_inference 1
value 6 faii.register.eligibility.batch_inference 0
value 6 faii.register.eligibility.ledger_work 1
field 6 faii.register.country 32 2 DE
field 6 faii.register.addr_family 34 1 4
label 6 faii.register.addr_family "Address family: IPv4 (4)"
field 6 faii.register.reserved 35 1 0x00
field 6 faii.register.addr 36 4 198.51.100.23
absent 6 faii.register.addr6
field 6 faii.register.udp_port 52 2 7411
field 6 faii.register.reserved2 54 2 0x0000
field 6 faii.register.timestamp_ns 56 8 1700000003000000000
field 6 faii.register.public_key 64 32 hex:$PUBKEY
field 6 faii.register.signature 96 64 hex:2624a1bd4e94b40c52301fab2cfa899a9308cc24e86761a0b9972f8ef86c44fce05cad6738eab0fd02813a917e65b0b6ea4455ace6b47275ae75223a3e166209
verdict 6 ok
info 6 "REGISTER node=11259375 class=large country=DE addr=198.51.100.23:7411"

# --- Frame 7: REGISTER over IPv6, IPv6 address -------------------------------
header 7 5 160 0x00
field 7 faii.register.node_id 8 4 258
field 7 faii.register.node_class 30 1 4
label 7 faii.register.node_class "Node class: xl (4)"
field 7 faii.register.eligibility 31 1 0x12
value 7 faii.register.eligibility.edge_inference 0
value 7 faii.register.eligibility.storage_shard 1
value 7 faii.register.eligibility.batch_inference 1
value 7 faii.register.eligibility.ledger_work 0
field 7 faii.register.country 32 2 SE
field 7 faii.register.addr_family 34 1 6
label 7 faii.register.addr_family "Address family: IPv6 (6)"
field 7 faii.register.addr6 36 16 2001:db8:100::17
absent 7 faii.register.addr
field 7 faii.register.udp_port 52 2 7411
field 7 faii.register.public_key 64 32 hex:$PUBKEY
field 7 faii.register.signature 96 64 hex:1224847525cef78a282d68a122a55358d2e0665e34061b1bee635ef502929781c68fa95ed5e608573a47f10e518972145761f3df146d9636e19a93b8ea737d05
verdict 7 ok
info 7 "REGISTER node=258 class=xl country=SE addr=[2001:db8:100::17]:7411"

# --- Frames 8-16: malformed, each with the C parser's drop reason ------------
field 8 faii.magic 0 2 0xfa12
verdict 8 bad_magic
absent 8 faii.heartbeat.node_id
info 8 "not a faii v1/v2 message [bad_magic]"

field 9 faii.length 4 2 73
field 9 faii.task.task_id 8 8 0x1122334455667788
verdict 9 bad_length

field 10 faii.task.category 56 1 5
field 10 faii.task.tier 57 1 2
verdict 10 tier_mismatch
info 10 "TASK id=0x00000000000000aa cat=batch_inference tier=2 [tier_mismatch]"

field 11 faii.type 3 1 9
label 11 faii.type "Type: Unknown (9)"
field 11 faii.data 8 4 hex:deadbeef
verdict 11 unknown_type

field 12 faii.length 4 2 40
field 12 faii.result.task_id 8 8 0x1122334455667788
field 12 faii.result.reserved 36 4 0x00000000
absent 12 faii.result.result_hash
verdict 12 too_short
info 12 "RESULT (truncated) [too_short]"

field 13 faii.flags 6 1 0x01
verdict 13 bad_flags

field 14 faii.attest.source_mix.nonrenewable 72 2 109
value 14 faii.attest.source_mix.sum 999
verdict 14 bad_energy_mix

field 15 faii.length 4 2 128
field 15 faii.heartbeat.seq 12 4 16909060
field 15 faii.data 128 4 hex:01020304
verdict 15 bad_length

field 16 faii.length 4 2 132
field 16 faii.data 128 4 hex:01020304
verdict 16 bad_length

checksums 1 2 3 4 5 6 7

# --- Frame 17: another port, decoded only with the preference ----------------
absent 17 faii.type
if pref=$(tshark_run -o faii.udp_port:7500 -Y faii -T fields -e frame.number \
	-e faii.type -e faii.heartbeat.seq 2>>"$tmp/tshark.err"); then
	if [[ $pref == $'17\t3\t16909060' ]]; then pass; else
		fail 17 "with -o faii.udp_port:7500, decoded '$pref', want frame 17 as HEARTBEAT seq 16909060 only"
	fi
else
	fail 17 "tshark -o faii.udp_port:7500 failed"
fi

# --- Frames 18-20: version 2 (docs/protocol.md section 8) ----------------------
field 18 faii.version 2 1 2
field 18 faii.task.node_id 40 4 11259375
field 18 faii.auth.nonce 64 8 hex:a1a2a3a4a5a6a7a8
field 18 faii.auth.handle 72 8 hex:0000000000000000
field 18 faii.auth.key_epoch 80 1 3
field 18 faii.auth.reserved 81 7 hex:00000000000000
field 18 faii.task.payload 104 5 hex:68656c6c6f
verdict 18 ok
info 18 "TASK id=0x1122334455667788 cat=interactive_inference tier=3 cons=session node=11259375 replica=2 attempt=1 v2 epoch=3"

field 19 faii.version 2 1 2
field 19 faii.auth.nonce 72 8 hex:a1a2a3a4a5a6a7a8
field 19 faii.auth.key_epoch 88 1 3
field 19 faii.result.payload 112 7 hex:726573756c7421
verdict 19 ok

field 20 faii.auth.nonce 64 8 hex:0100000000000000
verdict 20 bad_dispatch

# --- Frames 21-22: the last status defined (no_quorum) and the first not ------
field 21 faii.result.status 32 1 5
verdict 21 ok
verdict 22 bad_status

# --- The dissector never failed ----------------------------------------------
if grep -qi 'lua' "$tmp/tshark.err"; then
	fail - "tshark reported Lua errors: $(grep -i lua "$tmp/tshark.err" | head -3)"
else pass; fi
if grep -q 'faii.dissector_error\|Lua Error' "$tmp/decode.pdml"; then
	fail - "the dissector raised an error (faii.dissector_error)"
else pass; fi
for n in 1 2 3 4 5 6 7; do
	absent "$n" _ws.malformed
done

echo "tshark_decode: $passed passed, $failed failed"
((failed == 0))
