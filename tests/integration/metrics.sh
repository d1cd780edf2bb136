#!/usr/bin/env bash
# Prometheus metrics and DPDK telemetry of a real faiid: replays the pcap of
# known traffic through net_pcap with --metrics-port on a free port, then
#  - /metrics passes `promtool check metrics` (format and naming lint);
#  - the drop and message counters equal the pcap's counts, histograms are
#    well formed, reload status and fleet gauges are there;
#  - DPDK telemetry /faii/* answers (EAL telemetry socket) agree with
#    /metrics for the same counters;
#  - other paths get 404, other methods 405;
#  - 16 slow clients (a byte a second) do not stop the scrapes;
#  - a second faiid on the same port refuses to start, naming the port;
#  - SIGTERM still stops faiid cleanly.
#   metrics.sh FAIID MAKE_TRAFFIC CONFIG CHECK_PY
set -euo pipefail
# The programs this test runs, checked against scripts/deps.txt.
# shellcheck source=../lib/require.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/require.sh"
require python3 promtool curl awk
faiid=$1 make_traffic=$2 config=$3 check_py=$4 gen_demo_config=$5
tmp=$(mktemp -d)
pid=
trap 'kill -9 $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
# The demonstration configuration with its key files (tests/lib/demo_config.sh).
config=$(bash "$(dirname "${BASH_SOURCE[0]}")/../lib/demo_config.sh" "$gen_demo_config" \
	"$config" "$tmp")

fail=0
check() { # description, condition-status
	if [ "$2" -eq 0 ]; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi
}

"$make_traffic" "$tmp/traffic.pcap" >"$tmp/expected"
want=$(awk '{s += $2} END {print s}' "$tmp/expected")
slow=$(awk '$1 ~ /^(heartbeat|attest|register)$/ {s += $2} END {print s}' "$tmp/expected")
port=$(python3 "$check_py" port)
prefix="faii-metrics-$$"
url="http://127.0.0.1:$port/metrics"
start_s=$(date +%s.%N)

"$faiid" -l 0-1 --no-huge -m 256 --no-pci --file-prefix "$prefix" \
	--vdev "net_pcap0,rx_pcap=$tmp/traffic.pcap,tx_pcap=$tmp/tx.pcap" \
	--log-level lib.eal:warning -- \
	--config "$config" --ledger-dir "$tmp/ledger" --metrics-port "$port" \
	--control-socket "$tmp/ctl.sock" >"$tmp/out" 2>&1 &
pid=$!

# Bounded (30 s) wait until /metrics shows every packet and the slow path done.
wait_rc=0
python3 "$check_py" wait "$url" "$want" "$slow" "$tmp/metrics.txt" || wait_rc=$?
check "/metrics shows rx $want packets and $slow slow-path messages" $wait_rc
check "faiid says where the metrics are" \
	$(grep -q "^faiid: metrics on http://127.0.0.1:$port/metrics" "$tmp/out"; echo $?)

# promtool's lint: format, HELP and TYPE, counters end in _total, units.
prc=0
promtool check metrics <"$tmp/metrics.txt" >"$tmp/promtool" 2>&1 || prc=$?
cat "$tmp/promtool"
check "promtool check metrics passes (status $prc)" $prc
check "promtool reports no lint problem" $([ ! -s "$tmp/promtool" ]; echo $?)
check "$(wc -l <"$tmp/metrics.txt") lines exported" \
	$([ "$(wc -l <"$tmp/metrics.txt")" -gt 1000 ]; echo $?)

# Values and telemetry; the runtime directory is DPDK's for this file prefix.
sock=/var/run/dpdk/$prefix/dpdk_telemetry.v2
[ -S "$sock" ] || sock=${XDG_RUNTIME_DIR:-/tmp}/dpdk/$prefix/dpdk_telemetry.v2
crc=0
python3 "$check_py" compare "$url" "$tmp/metrics.txt" "$tmp/expected" "$sock" "$start_s" || crc=$?
check "values and telemetry agree with /metrics" $crc

# The same counters three ways: DPDK telemetry, the control socket, the pcap.
tcrc=0
python3 - "$sock" "$tmp/ctl.sock" "$tmp/expected" <<'PY' || tcrc=$?
import json, socket, sys
tele, ctl, expected = sys.argv[1:4]
t = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
t.settimeout(5)
t.connect(tele)
t.recv(16384)  # greeting
t.send(b"/faii/drops")
drops_t = json.loads(t.recv(65536).decode())["/faii/drops"]
c = socket.socket(socket.AF_UNIX)
c.settimeout(5)
c.connect(ctl)
c.sendall(b'{"id":1,"cmd":"counters"}\n')
buf = b""
while not buf.endswith(b"\n"):
    buf += c.recv(65536)
reply = json.loads(buf)
assert reply["ok"], reply
drops_c = reply["result"]["drops"]
want = {}
for line in open(expected):
    name, count = line.split()
    want[name] = int(count)
bad = 0
for reason, v in drops_c.items():
    tv = int(drops_t.get(reason, -1))
    if tv != v:
        print(f"FAIL: drop {reason}: control socket {v}, telemetry {tv}")
        bad = 1
    if reason in want and want[reason] != v:
        print(f"FAIL: drop {reason}: control socket {v}, pcap {want[reason]}")
        bad = 1
print(f"compared {len(drops_c)} drop counters: control socket = telemetry = pcap")
sys.exit(bad)
PY
check "control socket counters = DPDK telemetry = the pcap" $tcrc

code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/other")
check "GET /other is 404 (got $code)" $([ "$code" = 404 ]; echo $?)
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST "$url")
check "POST /metrics is 405 (got $code)" $([ "$code" = 405 ]; echo $?)
ctype=$(curl -s -m 5 -o /dev/null -w '%{content_type}' "$url")
check "content type is the text format 0.0.4 ($ctype)" \
	$(grep -q 'text/plain; version=0.0.4' <<<"$ctype"; echo $?)

# Slow clients (one byte a second, 16 of them, as a slowloris does) must not
# stop the scrapes: a connection timeout and a per-address limit.
src=0
python3 "$check_py" slowloris "$port" || src=$?
check "scrapes keep working under slow clients" $src

# A port that is taken is a start-up error that names it.
rc2=0
timeout 60 "$faiid" -l 0-1 --no-huge -m 256 --no-pci --file-prefix "$prefix-2" \
	--vdev net_ring0 --log-level lib.eal:warning -- \
	--config "$config" --ledger-dir "$tmp/ledger2" --metrics-port "$port" \
	--control-socket "$tmp/ctl2.sock" >"$tmp/out2" 2>&1 || rc2=$?
cat "$tmp/out2"
check "second faiid on port $port exits 1 (got $rc2)" $([ "$rc2" -eq 1 ]; echo $?)
check "and says the port is in use" \
	$(grep -q "metrics: cannot listen on 127.0.0.1:$port: Address already in use" \
		"$tmp/out2"; echo $?)
check "and never started its workers" $(! grep -q "running with" "$tmp/out2"; echo $?)

kill -TERM $pid
rc=0
wait $pid || rc=$?
pid=
cat "$tmp/out"
check "exit status 0 after SIGTERM (got $rc)" $([ "$rc" -eq 0 ]; echo $?)
check "stopped cleanly" $(grep -q 'stopped cleanly' "$tmp/out"; echo $?)
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$url" || true)
check "port closed after the stop (got $code)" $([ "$code" = 000 ]; echo $?)
exit $fail
