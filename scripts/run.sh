#!/usr/bin/env bash
# README command 1: install what is missing, build, and start faiid on the
# embedded default (configs/demo.yaml: DPDK virtual devices, no NIC, no
# hugepages, a local ledger under run/). Ctrl-C or SIGTERM stops it cleanly.
# Extra arguments go to faiid after the configuration, e.g. --metrics-port 9500.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash scripts/setup-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
mkdir -p run
exec build/dataplane/faiid -- --config configs/demo.yaml "$@"
