# shellcheck shell=bash
# A consortium of 4 for integration tests: faiid (the demo fleet, DPDK
# net_ring0) as validator id 1 (index 0) and three faii-validator
# processes, on loopback ports picked free. Source it, then:
#   consortium_setup TMP VALIDATOR        keys, ports, member list
#   consortium_start_validators EXTRA_YAML [faii-validator args...]
#   consortium_faiid_config DEMO EXTRA_YAML >FILE
# It sets: ports[0..3] (validators), ports[4] (metrics), members, and
# appends the processes it starts to the caller's pids array.

consortium_setup() { # tmp validator
	consortium_tmp=$1 consortium_validator=$2
	mapfile -t ports < <(python3 - <<'PY'
import socket
held = []
for _ in range(5):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
    print(s.getsockname()[1])
PY
	)
	members=""
	local i
	for i in 1 2 3 4; do
		mkdir -p "$consortium_tmp/v$i"
		(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' \
			>"$consortium_tmp/v$i/key" && echo >>"$consortium_tmp/v$i/key")
		members+="      - {id: $i, public_key: $("$consortium_validator" --public-key \
			"$consortium_tmp/v$i/key"),"
		members+=" address: \"127.0.0.1:${ports[$((i - 1))]}\"}"$'\n'
	done
}

validators_block() { # id
	cat <<YAML
  validators:
    self: $1
    key_file: $consortium_tmp/v$1/key
    batch_wait_ms: 5
    leader_timeout_ms: 200
    tick_ms: 5
    members:
$members
YAML
}

consortium_start_validators() { # extra_yaml [args...]
	local extra=$1 i
	shift
	for i in 2 3 4; do
		{ echo "appliance:"; echo "  ledger_dir: $consortium_tmp/v$i/ledger"
			echo "  ledger_segment_mb: 4"; validators_block "$i"; echo "$extra"; } \
			>"$consortium_tmp/v$i/appliance.yaml"
		local own=()
		# Validator 2 submits TMP/submit.hex when the test wrote one.
		[ "$i" = 2 ] && [ -f "$consortium_tmp/submit.hex" ] &&
			own=(--submit-file "$consortium_tmp/submit.hex" --slice-ms 0)
		"$consortium_validator" --config "$consortium_tmp/v$i/appliance.yaml" "$@" "${own[@]}" \
			>"$consortium_tmp/v$i/status.jsonl" 2>"$consortium_tmp/v$i/stderr" &
		pids+=($!)
	done
}

consortium_faiid_config() { # demo extra_yaml
	# extra_yaml is a top-level "settlement:" block (or empty): its keys go
	# under the demo's own settlement: section when it has one.
	local body
	body=$(printf '%s\n' "$2" | tail -n +2)
	awk -v block="$(validators_block 1)" -v body="$body" -v extra="$2" '
		{print}
		/^  ledger_dir:/ {print "  ledger_segment_mb: 4"; print block}
		/^settlement:/ && body != "" {print body; merged = 1}
		END {if (!merged && extra != "") print extra}' "$1"
}

# faiid as validator id 1 on net_ring0 with TMP/faiid.yaml, its control
# socket at $sock and metrics on ports[4]; sets faiid_pid.
consortium_start_faiid() { # faiid file-prefix
	"$1" -l 0-1 --no-huge -m 512 --no-pci --file-prefix "$2-$$" --vdev net_ring0 \
		--log-level lib.eal:warning -- --config "$consortium_tmp/faiid.yaml" \
		--ledger-dir "$consortium_tmp/v1/ledger" --metrics-port "${ports[4]}" \
		--control-socket "$sock" >"$consortium_tmp/faiid.out" 2>&1 &
	faiid_pid=$!
	pids+=("$faiid_pid")
}

# Exits the test when faiid has died (after printing its output).
consortium_faiid_alive() {
	if ! kill -0 "$faiid_pid" 2>/dev/null; then
		cat "$consortium_tmp/faiid.out"
		echo "FAIL: faiid stopped"
		exit 1
	fi
}
