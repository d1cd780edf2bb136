#!/usr/bin/env bash
# The residency program on real kernel hooks, end to end. Two network
# namespaces joined by a veth pair (tx: vtx 198.18.0.1, rx: vrx 198.18.0.2,
# the benchmarking range); IPv6 off and static ARP entries, so that nothing
# but the test's own datagrams crosses the link and the counters can be
# matched exactly. faii-residency loads the program from a configuration
# (udp_port 7499, not the default, to prove the port reaches the program;
# nodes on their own ports 7400 + id, which its port map makes faii too) on
# a private bpffs and attaches it:
#   phase xdp-native   XDP on vrx, driver mode (veth has native XDP)
#   phase xdp-generic  XDP on vrx, generic (skb) mode
#   phase tc-egress    TC egress filter on vtx, the sending side
# In each phase real UDP datagrams go from tx to rx: allowed tasks arrive at
# the receiver's socket; forbidden, unknown-node, unknown-class, undispatched
# and malformed tasks do not, to the appliance's port or to a node's; a
# RESULT and non-faii UDP (to ports no node uses) pass. The per-CPU
# counters (faii-residency stats, and bpftool through the pin) must equal what
# was sent, and the ring buffer must hold one event per refusal. The XDP
# phases end with syncs under the attached program: to a changed policy, then
# to node 13 registered on another port (the old port is no longer faii).
# Then policy updates under load: FAII_RES_FLIPS (default 1000) syncs between
# two policies while tasks stream through XDP (residency_flip.c).
#   residency_netns.sh FAII_RESIDENCY RESIDENCY_PEER RESIDENCY_FLIP
set -euo pipefail
# The programs this test runs, checked against scripts/deps.txt.
# shellcheck source=../lib/require.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/require.sh"
require ip sysctl mount umount bpftool awk
tool=$1 peer=$2 flip=$3
flips=${FAII_RES_FLIPS:-1000}
tmp=$(mktemp -d)
tx=faii-rtx-$$ rx=faii-rrx-$$
pins=$tmp/bpffs/faii
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	ip netns del "$tx" 2>/dev/null || true
	ip netns del "$rx" 2>/dev/null || true
	umount "$tmp/bpffs" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

fail=0
check() { if [ "$2" -eq 0 ]; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }
in_tx() { timeout 60 ip netns exec "$tx" "$@"; }
in_rx() { timeout 60 ip netns exec "$rx" "$@"; }

# ---------------------------------------------------------------------------
# Configurations: jurisdictions CH (0), DE (1, EU), US (2).

node() { # ID COUNTRY
	cat <<EOF
  - id: $1
    class: S
    operator: op-$1
    asn: 64512
    country: $2
    region: lab
    location: [47.0, 8.0]
    address: "198.18.1.$(($1 % 250 + 1)):$((7400 + $1))"
    capacity: 10
    eligibility: [all]
    price: 1
    esg: {mix: {hydro: 1}, pue: 1.1, energy_to_work: 0.02, grid_stress: 0.1}
    public_key: $(printf '%064x' "$1")
EOF
}

config() { # CLASSES NODES...: a configuration with those classes and "ID:COUNTRY" nodes
	local classes=$1
	shift
	cat <<EOF
appliance:
  udp_port: 7499
  residency_pin_dir: $pins
jurisdictions:
  - {country: CH, bloc: EFTA}
  - {country: DE, bloc: EU}
  - {country: US}
regions:
  - {id: 1, name: lab, lat: 47, lon: 8}
residency_classes:
$classes
nodes:
EOF
	for n in "$@"; do node "${n%%:*}" "${n##*:}"; done
}

config "  - {id: 1, name: any, allow: [any]}
  - {id: 2, name: CH-only, allow: [CH]}
  - {id: 3, name: EU-only, allow: [EU]}" 11:CH 12:DE 13:US >"$tmp/base.yaml"
# The same, with US joining class 2: task 13/2 turns from forbidden to allowed.
sed 's/allow: \[CH\]}/allow: [CH, US]}/' "$tmp/base.yaml" >"$tmp/widened.yaml"
# The same, with node 13 registered again on port 7415 instead of 7413.
sed 's/198.18.1.14:7413/198.18.1.14:7415/' "$tmp/base.yaml" >"$tmp/moved.yaml"

# The two policies of the flip test. Any mixture of them judges some task
# differently from both (task node/class: A, B, a mixture):
#   21/5  A allowed (CH in {CH}), B allowed (US in {US});  node of A with class
#         of B, or the reverse: forbidden
#   22/5  A forbidden (US), B forbidden (CH);  a mixture: allowed (a leak)
#   23/6  A allowed (DE, any), B unknown node;  node of A, class of B: unknown class
#   24/7  A unknown class, B allowed (CH in {CH})
#   24/6  A allowed, B unknown class
config "  - {id: 5, name: five, allow: [CH]}
  - {id: 6, name: six, allow: [any]}" 21:CH 22:US 23:DE 24:CH >"$tmp/flip_a.yaml"
config "  - {id: 5, name: five, allow: [US]}
  - {id: 7, name: seven, allow: [CH]}" 21:US 22:CH 24:CH >"$tmp/flip_b.yaml"

# ---------------------------------------------------------------------------
# Namespaces, veth, bpffs.

mkdir -p "$tmp/bpffs"
mount -t bpf bpf "$tmp/bpffs"
ip netns add "$tx"
ip netns add "$rx"
for ns in "$tx" "$rx"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
	ip -n "$ns" link set lo up
done
ip link add vtx netns "$tx" type veth peer name vrx netns "$rx"
ip -n "$tx" addr add 198.18.0.1/24 dev vtx
ip -n "$rx" addr add 198.18.0.2/24 dev vrx
ip -n "$tx" link set vtx up
ip -n "$rx" link set vrx up
mac_tx=$(ip -n "$tx" -br link show vtx | awk '{print $3}')
mac_rx=$(ip -n "$rx" -br link show vrx | awk '{print $3}')
ip -n "$tx" neigh replace 198.18.0.2 lladdr "$mac_rx" dev vtx nud permanent
ip -n "$rx" neigh replace 198.18.0.1 lladdr "$mac_tx" dev vrx nud permanent

# ---------------------------------------------------------------------------
# Phases: what is sent, what must arrive, what must be counted.

n=20
traffic=(
	"task:7499:$n:11:2"   # allowed: CH node, CH-only class
	"task:7499:$n:12:3"   # allowed: DE node, EU-only class
	"task:7499:$n:13:1"   # allowed: US node, any
	"task:7499:$n:13:2"   # forbidden: US node, CH-only class
	"task:7499:$n:11:3"   # forbidden: CH node, EU-only class
	"task:7499:$n:99:1"   # unknown node
	"task:7499:$n:11:7"   # unknown class (not in the configuration)
	"task:7499:$n:11:40"  # unknown class
	"task:7499:$n:0:2"    # undispatched: a client's task
	"badmagic:7499:$n:11:2" # malformed
	"short:7499:$n:11:2"  # malformed: one byte short of the task body
	"result:7499:$n"      # faii, not a task: passes
	"raw:7500:$n"         # not faii: passes
	"task:7410:$n:13:2"   # a forbidden task, but to 7410, no faii port here
	"task:7411:$n:11:2"   # allowed, to node 11's own port
	"task:7413:$n:13:2"   # forbidden, to node 13's own port
	"badmagic:7412:$n:12:3" # malformed, to node 12's own port
	"raw:7414:$n"         # not faii: no node listens on 7414
)
want_counters="{\"pass_allowed\": $((4 * n)), \"pass_not_faii\": $((3 * n)), \"pass_not_task\": $n, \"drop_malformed\": $((3 * n)), \"drop_undispatched\": $n, \"drop_unknown_node\": $n, \"drop_unknown_class\": $((2 * n)), \"drop_forbidden\": $((3 * n)), \"events_lost\": 0}"
want_recv=$(printf '%s\n' "recv 7410 task 13 2 $n" "recv 7411 task 11 2 $n" "recv 7414 other $n" \
	"recv 7499 result $n" "recv 7499 task 11 2 $n" "recv 7499 task 12 3 $n" \
	"recv 7499 task 13 1 $n" "recv 7500 other $n")
# event REASON NODE CLASS JURISDICTION COUNT
want_events=$(printf '%s\n' "event drop_forbidden 11 3 0 $n" "event drop_forbidden 13 2 2 $((2 * n))" \
	"event drop_malformed 0 0 255 $((3 * n))" "event drop_undispatched 0 2 255 $n" \
	"event drop_unknown_class 11 40 0 $n" "event drop_unknown_class 11 7 0 $n" \
	"event drop_unknown_node 99 1 255 $n")

# Sends the traffic once; the receiver counts what arrived.
exchange() { # NAME
	# Listening on 7412 and 7413 too: what the program dropped there would show.
	in_rx "$peer" recv --idle-ms 700 --max-ms 20000 7499 7500 7410 7411 7412 7413 7414 \
		>"$tmp/$1.recv" &
	local rpid=$!
	pids+=("$rpid")
	for _ in $(seq 1 50); do grep -q ready "$tmp/$1.recv" 2>/dev/null && break; sleep 0.1; done
	in_tx "$peer" send 198.18.0.2 --pace-us 100 "${traffic[@]}" >"$tmp/$1.sent"
	wait "$rpid" || true
	grep -v ready "$tmp/$1.recv" | sort >"$tmp/$1.recv.sorted" || true
}

counter() { # JSON NAME
	echo "$1" | grep -o "\"$2\": [0-9]*" | grep -o '[0-9]*$'
}

# Node 13 registered again on 7415: a sync moves the port map with the node
# map, so 13/2 to 7415 is refused and 7413 is no longer a faii port.
moved_port() { # NAME NS
	local name=$1 ns=$2 out before after
	out=$(timeout 60 ip netns exec "$ns" "$tool" sync --config "$tmp/moved.yaml")
	echo "$out"
	before=$("$tool" stats --json --pin-dir "$pins")
	in_tx "$peer" send 198.18.0.2 "task:7415:5:13:2" "task:7413:5:13:2" >/dev/null
	sleep 0.3
	after=$("$tool" stats --json --pin-dir "$pins")
	local forbidden=$(($(counter "$after" drop_forbidden) - $(counter "$before" drop_forbidden)))
	local not_faii=$(($(counter "$after" pass_not_faii) - $(counter "$before" pass_not_faii)))
	check "$name: after a sync to node 13 on 7415, 13/2 to 7415 refused ($forbidden of 5), to 7413 not faii ($not_faii of 5)" \
		$([ "$forbidden" -eq 5 ] && [ "$not_faii" -eq 5 ]; echo $?)
	"$flip" drain "$pins" >/dev/null
}

phase() { # NAME NS ATTACH-COMMAND IFACE [--mode MODE]
	local name=$1 ns=$2 cmd=$3 iface=$4
	shift 4
	echo "--- phase $name"
	timeout 60 "$tool" load --config "$tmp/base.yaml" >/dev/null
	timeout 60 ip netns exec "$ns" "$tool" "$cmd" "$iface" --pin-dir "$pins" "$@"
	timeout 60 ip netns exec "$ns" "$tool" show --config "$tmp/base.yaml" >"$tmp/$name.show"
	cat "$tmp/$name.show"
	check "$name: attached" $(grep -q "^  $iface .*prog id" "$tmp/$name.show"; echo $?)
	check "$name: udp port from the configuration" $(grep -qx "udp port 7499" "$tmp/$name.show"; echo $?)
	check "$name: node ports from the configuration" \
		$(grep -qx "node ports 3: 7411 7412 7413" "$tmp/$name.show"; echo $?)

	exchange "$name"
	check "$name: allowed tasks, the RESULT and non-faii UDP arrived, nothing else" \
		$([ "$(cat "$tmp/$name.recv.sorted")" = "$want_recv" ]; echo $?)
	[ "$(cat "$tmp/$name.recv.sorted")" = "$want_recv" ] || diff <(echo "$want_recv") "$tmp/$name.recv.sorted" || true
	local stats
	stats=$(timeout 30 "$tool" stats --json --pin-dir "$pins")
	echo "stats: $stats"
	check "$name: counters match what was sent" $([ "$stats" = "$want_counters" ]; echo $?)
	# bpftool sees the pinned maps by path and by name.
	check "$name: bpftool shows the pinned maps by name" \
		$(grep -q 'name faii_res_nodes' <<<"$(bpftool map show pinned "$pins/faii_res_nodes")" &&
			grep -q '"key": 7' <<<"$(bpftool map dump pinned "$pins/faii_res_counters")"; echo $?)
	"$flip" drain "$pins" | sort >"$tmp/$name.events"
	check "$name: one ring-buffer event per refusal" \
		$([ "$(cat "$tmp/$name.events")" = "$want_events" ]; echo $?)
	[ "$(cat "$tmp/$name.events")" = "$want_events" ] || diff <(echo "$want_events") "$tmp/$name.events" || true

	if [ "$cmd" = attach-xdp ]; then
		# A changed policy under the attached program: 13/2 now passes.
		local out
		out=$(timeout 60 ip netns exec "$ns" "$tool" sync --config "$tmp/widened.yaml")
		echo "$out"
		check "$name: sync moved the XDP attachment" $(echo "$out" | grep -q "1 XDP and 0 TC"; echo $?)
		local before after
		before=$("$tool" stats --json --pin-dir "$pins")
		in_tx "$peer" send 198.18.0.2 "task:7499:5:13:2" >/dev/null
		sleep 0.3
		after=$("$tool" stats --json --pin-dir "$pins")
		local pa=$(($(echo "$after" | grep -o '"pass_allowed": [0-9]*' | grep -o '[0-9]*$') - \
			$(echo "$before" | grep -o '"pass_allowed": [0-9]*' | grep -o '[0-9]*$')))
		check "$name: after sync, counters kept and the widened class passes 13/2 ($pa of 5)" \
			$([ "$pa" -eq 5 ]; echo $?)
		moved_port "$name" "$ns"
	fi

	timeout 60 ip netns exec "$ns" "$tool" detach "$iface" --pin-dir "$pins"
	local left
	left=$(timeout 60 ip netns exec "$ns" "$tool" show --pin-dir "$pins" | grep -c "prog id" || true)
	check "$name: detached" $([ "$left" -eq 0 ]; echo $?)
	timeout 60 "$tool" unload --pin-dir "$pins"
	check "$name: unloaded" $([ ! -e "$pins" ]; echo $?)
}

phase xdp-native "$rx" attach-xdp vrx --mode native
phase xdp-generic "$rx" attach-xdp vrx --mode generic
phase tc-egress "$tx" attach-tc vtx

# ---------------------------------------------------------------------------
# Policy updates under load.

echo "--- flips: $flips syncs between two policies under traffic"
timeout 60 "$tool" load --config "$tmp/flip_a.yaml" >/dev/null
in_rx "$tool" attach-xdp vrx --pin-dir "$pins"
timeout $((flips / 2 + 120)) ip netns exec "$rx" "$flip" run "$pins" "$tmp/flip_a.yaml" \
	"$tmp/flip_b.yaml" "$flips" >"$tmp/flip.out" 2>&1 &
fpid=$!
pids+=("$fpid")
for _ in $(seq 1 50); do grep -q ready "$tmp/flip.out" && break; sleep 0.1; done
timeout $((flips / 2 + 120)) ip netns exec "$tx" "$peer" send 198.18.0.2 --loop --pace-us 20 \
	"task:7499:1:21:5" "task:7499:1:22:5" "task:7499:1:23:6" "task:7499:1:24:7" \
	"task:7499:1:24:6" >"$tmp/flip.sent" &
spid=$!
pids+=("$spid")
for _ in $(seq 1 $((flips * 10 + 600))); do
	grep -q flipped "$tmp/flip.out" && break
	kill -0 "$fpid" 2>/dev/null || break
	sleep 0.1
done
kill -TERM "$spid" 2>/dev/null || true
wait "$spid" || true
rc=0
wait "$fpid" || rc=$?
cat "$tmp/flip.out" "$tmp/flip.sent"
sent=$(awk '{s += $3} END {print s + 0}' "$tmp/flip.sent")
counted=$(awk '/^counted/ {print $2}' "$tmp/flip.out")
check "flips: every verdict is one of a whole policy, both policies judged (status $rc)" \
	$([ "$rc" -eq 0 ]; echo $?)
check "flips: $flips syncs done" $(grep -q "^flipped $flips times" "$tmp/flip.out"; echo $?)
check "flips: counters ($counted) match the datagrams sent ($sent)" \
	$([ -n "$counted" ] && [ "$counted" -eq "$sent" ] && [ "$sent" -gt 0 ]; echo $?)
timeout 60 "$tool" unload --pin-dir "$pins"

exit $fail
