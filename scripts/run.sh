#!/usr/bin/env bash
# README command 1: install what is missing, build, and run the appliance on
# its embedded default: faiid on configs/demo.yaml (no NIC, no hugepages, a
# local ledger under run/) with the simulated fleet and clients (perf/faii-sim)
# playing against it over a DPDK memif virtual device, two processes.
#
#   bash scripts/run.sh [SECONDS] [faii-sim options...]
#
# SECONDS (default 30) is how long the clients send; faiid then stops and
# both print their final summaries. FAII_SIM_RATE sets tasks/s (default 2000).
# FAII_DEMO_FAIID_ONLY=1 runs faiid alone (stop it with Ctrl-C).
#
# The demo is authenticated end to end (protocol version 2 only, version 1
# refused): the demo key files are written to run/demo-keys first (mode
# 0600), clients MAC their TASKs, nodes their RESULTs. faiid's final summary
# has an "auth:" line with every refusal by name. To see refusals, give the
# simulator a wrong key, or none:
#   bash scripts/run.sh 10 --client-key wrong     # task_bad_mac
#   bash scripts/run.sh 10 --client-key none      # task_unauthenticated
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash scripts/setup-deps.sh
# shellcheck source=../tests/lib/require.sh
. tests/lib/require.sh
require meson ninja
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
mkdir -p run
build/tools/gen_demo_config --keys run/demo-keys

if [ "${FAII_DEMO_FAIID_ONLY:-0}" = 1 ]; then
	exec build/appliance/faiid -- --config configs/demo.yaml
fi

seconds=${1:-30}
shift || true
sock=$root/run/memif.sock
rm -f "$sock"
# faiid: main lcore 0 (control thread), worker lcore 1; the simulator shares
# the cores, so latencies include scheduling on this small machine.
build/appliance/faiid -l 0-1 --no-huge -m 512 --no-pci --file-prefix faii-demo \
	--vdev "net_memif0,role=server,socket=$sock" --log-level lib.eal:warning -- \
	--config configs/demo.yaml >run/faiid.log 2>&1 &
faiid_pid=$!
trap 'kill -TERM $faiid_pid 2>/dev/null || true' EXIT INT TERM
tail -n +1 -f run/faiid.log --pid=$faiid_pid &

# Bounded wait for faiid to publish its first routes and listen.
for _ in $(seq 1 100); do
	grep -q "running with" run/faiid.log && break
	kill -0 $faiid_pid 2>/dev/null || { echo "run.sh: faiid did not start" >&2; exit 1; }
	sleep 0.1
done

# The simulator runs in the background; once it has printed its summary, faiid
# is stopped first and the simulator then closes its side of the link
# (--wait-peer): closing a memif client under a polling server can crash the
# server inside DPDK's memif driver.
build/perf/faii-sim -l 0 --no-huge -m 256 --no-pci --file-prefix faii-demo-sim \
	--vdev "net_memif0,role=client,socket=$sock" --log-level lib.eal:warning -- \
	--config configs/demo.yaml --duration "$seconds" --rate "${FAII_SIM_RATE:-2000}" \
	--wait-peer 10 "$@" >run/faii-sim.log 2>&1 &
sim_pid=$!
tail -n +1 -f run/faii-sim.log --pid=$sim_pid &
# Bounded: the sending time, the drain and the start-up, with room to spare.
for _ in $(seq 1 $(((seconds + 60) * 10))); do
	grep -q "^faii-sim: summary" run/faii-sim.log && break
	kill -0 $sim_pid 2>/dev/null || break
	sleep 0.1
done
sleep 0.2 # the rest of the summary
kill -TERM $faiid_pid 2>/dev/null || true
faiid_rc=0
wait $faiid_pid || faiid_rc=$?
sim_rc=0
wait $sim_pid || sim_rc=$?
trap - EXIT INT TERM
sleep 0.2
echo "run.sh: faiid's log is run/faiid.log, the simulator's run/faii-sim.log, faiid's ledger run/ledger (build/ledger/faii-ledger dump run/ledger)"
if [ $faiid_rc -ne 0 ]; then
	echo "run.sh: faiid exited with status $faiid_rc" >&2
	exit $faiid_rc
fi
exit $sim_rc
