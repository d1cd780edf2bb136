#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A local consortium of validators on this machine (docs/consensus.md,
# "A local consortium"): N faii-validator processes on loopback, each with
# its own key, configuration and ledger directory, under DIR.
#
#   scripts/consortium.sh setup DIR [N] [BASE_PORT] [NETWORK]   keys and configurations
#   scripts/consortium.sh start DIR [faii-validator args...]   start all, in the background
#   scripts/consortium.sh stop DIR                     SIGTERM all, wait
#   scripts/consortium.sh status DIR                   each one's last status line
#
# Validator i listens on 127.0.0.1:BASE_PORT+i; with NETWORK (an IPv4 prefix
# such as 198.18.9.), on NETWORK<i>:BASE_PORT instead, one address each (for
# validators in network namespaces, as tests/integration/consensus_processes.sh
# runs them).
#
# FAII_VALIDATOR  the faii-validator binary (default build/tools/faii-validator)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
validator=${FAII_VALIDATOR:-$root/build/tools/faii-validator}

setup() { # dir n base_port network
	local dir=$1 n=${2:-4} port=${3:-7420} network=${4:-} address
	mkdir -p "$dir"
	local i members=""
	for ((i = 1; i <= n; i++)); do
		mkdir -p "$dir/v$i"
		(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/v$i/validator.key" &&
			echo >>"$dir/v$i/validator.key")
		address=127.0.0.1:$((port + i))
		[[ -z $network ]] || address=$network$i:$port
		members+="      - id: $i
        public_key: $("$validator" --public-key "$dir/v$i/validator.key")
        address: \"$address\"
"
	done
	for ((i = 1; i <= n; i++)); do
		cat >"$dir/v$i/appliance.yaml" <<YAML
# Validator $i of a local consortium of $n (scripts/consortium.sh).
appliance:
  ledger_dir: $dir/v$i/ledger
  ledger_segment_mb: 16
  validators:
    self: $i
    key_file: $dir/v$i/validator.key
    batch_bytes: 61440
    batch_wait_ms: 5
    leader_timeout_ms: 200
    retransmit_ms: 50
    tick_ms: 5
    members:
$members
YAML
	done
	echo "consortium of $n in $dir"
}

start() { # dir args...
	local dir=$1 i
	shift
	for config in "$dir"/v*/appliance.yaml; do
		i=$(basename "$(dirname "$config")")
		"$validator" --config "$config" "$@" >"$dir/$i/status.jsonl" 2>"$dir/$i/stderr.log" &
		echo $! >"$dir/$i/pid"
	done
}

stop() { # dir
	local dir=$1 pid
	for pidfile in "$dir"/v*/pid; do
		pid=$(cat "$pidfile")
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pidfile in "$dir"/v*/pid; do
		pid=$(cat "$pidfile")
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		rm -f "$pidfile"
	done
}

status() { # dir
	local dir=$1
	for log in "$dir"/v*/status.jsonl; do tail -n 1 "$log"; done
}

command=${1:-}
[[ $# -ge 2 ]] || { echo "usage: $0 setup|start|stop|status DIR [...]" >&2; exit 2; }
shift
case $command in
setup | start | stop | status) "$command" "$@" ;;
*) echo "usage: $0 setup|start|stop|status DIR [...]" >&2; exit 2 ;;
esac
