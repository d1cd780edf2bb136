#!/usr/bin/env bash
# The consensus among real processes, under perturbations (issue 13's
# "Real processes", CometBFT-style): four faii-validator processes, each in
# its own network namespace joined by a veth pair to one bridge (so that
# one of them can be cut off at its link, which loopback cannot do for the
# connections it dials itself; nftables is not installed on the test
# machines), every one under synthetic load. In turn:
#   kill -9   validator 3 is killed and restarted: it replays its journal,
#             re-deriving its whole committed sequence, and catches up;
#   SIGSTOP   validator 2 is stopped for STOP_S seconds, then continued;
#   cut       validator 4's link goes down for CUT_S seconds, then up;
#   Byzantine validator 1 is restarted with --byzantine
#             equivocate,forge,withhold (tests-only lies on the way out).
# Safety, over the whole run: every status line carries chain_mark, a hash
# chain over the committed sequence up to chain_mark_sequence; all lines of
# all validators (every incarnation) at one mark sequence must carry one
# mark, and every restarted incarnation must be compared with another
# validator at least once. Liveness: the others keep committing while one is
# down, stopped or cut off (at least PROGRESS_MIN vertices), and the one
# that comes back reaches the count the others had when it came back within
# CATCHUP_BOUND_S seconds (each measured and printed). The honest three
# prove the equivocation (equivocations > 0) and count forged signatures.
# Every process, namespace and link is removed on exit, failure included.
#
#   consensus_processes.sh FAII_VALIDATOR CONSORTIUM_SH
#   FAII_CONSENSUS_LONG=1  five cycles of the perturbations with 30 s
#                          outages (about 15 minutes) instead of one with 10 s
# Needs root and `ip netns` (skips, exit 77, saying so, without them).
set -euo pipefail
# shellcheck source=../lib/require.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/require.sh"
require ip python3
validator=$1 consortium=$2

N=4
LOAD=1000                 # transactions/s each validator submits (512 bytes each)
STATUS_MS=200             # status lines: the resolution of every measurement
PROGRESS_MIN=100          # vertices the others commit during one outage, at least
CATCHUP_BOUND_S=30        # the stated liveness bound after restart, SIGCONT, heal
REPLAY_BOUND_S=60         # a restarted validator's replay of its whole journal
WAIT_MAX_S=60             # any other wait
DOWN_S=3                  # a killed validator stays down this long
STOP_S=10 CUT_S=10 BYZANTINE_S=10 CYCLES=1
if [[ ${FAII_CONSENSUS_LONG:-0} == 1 ]]; then
	STOP_S=30 CUT_S=30 DOWN_S=15 BYZANTINE_S=30 CYCLES=5
fi

if [[ $(id -u) -ne 0 ]]; then
	echo "SKIP: needs root for network namespaces"
	exit 77
fi
tag=fc$$
if ! ip netns add "$tag-probe" 2>/dev/null; then
	echo "SKIP: ip netns add failed: no network namespace support here"
	exit 77
fi
ip netns del "$tag-probe"

tmp=$(mktemp -d)
declare -a pid incarnation
failed=0

cleanup() {
	local k
	for k in "${!pid[@]}"; do
		kill -CONT "${pid[$k]}" 2>/dev/null || true
		kill -KILL "${pid[$k]}" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	for ((k = 1; k <= N; k++)); do ip netns del "$tag-$k" 2>/dev/null || true; done
	ip link del "${tag}br" 2>/dev/null || true
	if ((failed)); then
		for ((k = 1; k <= N; k++)); do
			echo "--- validator $k: last status lines and errors"
			tail -n 2 "$tmp"/v$k/status.*.jsonl 2>/dev/null || true
			tail -n 5 "$tmp"/v$k/stderr.*.log 2>/dev/null || true
		done
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	failed=1
	exit 1
}

# ---- the network: a bridge, and one namespace and veth pair per validator

ip link add "${tag}br" type bridge
ip link set "${tag}br" up
for ((k = 1; k <= N; k++)); do
	ip netns add "$tag-$k"
	ip link add "${tag}h$k" type veth peer name "${tag}n$k"
	ip link set "${tag}h$k" master "${tag}br" up
	ip link set "${tag}n$k" netns "$tag-$k"
	ip -n "$tag-$k" addr add "198.18.9.$k/24" dev "${tag}n$k"
	ip -n "$tag-$k" link set "${tag}n$k" up
	ip -n "$tag-$k" link set lo up
done

# ---- keys and configurations: validator k at 198.18.9.k:7600

FAII_VALIDATOR=$validator "$consortium" setup "$tmp" "$N" 7600 198.18.9. >/dev/null

# ---- processes and their status

start() { # K [faii-validator args...]: a new incarnation of validator K
	local k=$1
	shift
	incarnation[k]=$((${incarnation[k]:-0} + 1))
	ip netns exec "$tag-$k" "$validator" --config "$tmp/v$k/appliance.yaml" \
		--status-ms "$STATUS_MS" --load "$LOAD" --tx-bytes 512 --duration 3600 "$@" \
		>"$tmp/v$k/status.${incarnation[k]}.jsonl" 2>"$tmp/v$k/stderr.${incarnation[k]}.log" &
	pid[k]=$!
}

stop() { # K: SIGTERM, wait for the exit
	local k=$1
	kill -TERM "${pid[k]}"
	wait "${pid[k]}" || fail "validator $k exited with status $? on SIGTERM"
	unset "pid[$k]"
}

field() { # K NAME: NAME of validator K's last complete status line ("" if none)
	local k=$1
	tail -n 2 "$tmp/v$k/status.${incarnation[k]}.jsonl" 2>/dev/null | grep '}}$' | tail -n 1 |
		sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p"
}

committed() { # K: committed vertices of validator K (0 before its first line)
	local value
	value=$(field "$1" committed_vertices)
	echo "${value:-0}"
}

min_committed() { # K...: the least committed count among them
	local k least=-1 c
	for k in "$@"; do
		c=$(committed "$k")
		if ((least < 0 || c < least)); then least=$c; fi
	done
	echo "$least"
}

others() { # K: the validators but K
	local k
	for ((k = 1; k <= N; k++)); do if ((k != $1)); then echo "$k"; fi; done
}

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# Waits until validator K has committed at least TARGET vertices; sets
# waited_ms to the milliseconds it took, or fails after BOUND seconds.
wait_committed() { # K TARGET BOUND_S WHAT
	local k=$1 target=$2 bound_ms=$(($3 * 1000)) t0
	t0=$(now_ms)
	while (($(committed "$k") < target)); do
		(($(now_ms) - t0 <= bound_ms)) ||
			fail "$4: validator $k at $(committed "$k") of $target committed vertices after $3 s"
		kill -0 "${pid[k]}" 2>/dev/null || fail "$4: validator $k died"
		! tail -n 1 "$tmp/v$k/status.${incarnation[k]}.jsonl" | grep -q '"failed":true' ||
			fail "$4: validator $k stopped for good: its journal failed"
		sleep 0.1
	done
	waited_ms=$(($(now_ms) - t0))
}

# The others' progress during an outage of validator K lasting SECONDS.
outage() { # K SECONDS WHAT
	local k=$1 before after
	mapfile -t rest < <(others "$k")
	before=$(min_committed "${rest[@]}")
	sleep "$2"
	after=$(min_committed "${rest[@]}")
	echo "$3: the other three committed $((after - before)) vertices in $2 s"
	((after - before >= PROGRESS_MIN)) ||
		fail "$3: the other three committed $((after - before)) < $PROGRESS_MIN vertices"
}

# Validator K is back holding FROM committed vertices: how long until it has
# what the others had then (bound CATCHUP_BOUND_S), and the catch-up ratio:
# the vertices it gained over those the others added meanwhile. A restarted
# validator first replays its journal up to REPLAYED, the count it had when
# killed (bound REPLAY_BOUND_S: the whole journal is replayed, so this grows
# with the history), and only then fetches.
catchup() { # K WHAT FROM [REPLAYED]
	local k=$1 from=$3 target t0 ms replayed="" grown
	mapfile -t rest < <(others "$k")
	target=$(min_committed "${rest[@]}")
	t0=$(now_ms)
	if [[ -n ${4:-} ]]; then
		wait_committed "$k" "$4" "$REPLAY_BOUND_S" "$2 (journal replay)"
		replayed=" (its journal's replay gave back $4 in $waited_ms ms, bound $REPLAY_BOUND_S s;"
		replayed+=" the catch-up after it"
		figures+=("\"$2_replay_${cycle}_ms\": $waited_ms")
		from=$4
	fi
	wait_committed "$k" "$target" "$CATCHUP_BOUND_S" "$2"
	ms=$(($(now_ms) - t0))
	grown=$(($(min_committed "${rest[@]}") - target))
	echo "$2: validator $k reached the others' $target committed vertices in $ms ms$replayed" \
		"(bound ${CATCHUP_BOUND_S} s)${replayed:+)}; it gained $((target - from)), they added $grown:" \
		"catch-up ratio $(((target - from) * 10 / (grown > 0 ? grown : 1) / 10)).$(((target - from) * 10 / (grown > 0 ? grown : 1) % 10))"
	figures+=("\"$2_${cycle}_ms\": $ms")
}

figures=()
for ((k = 1; k <= N; k++)); do start "$k"; done
for ((k = 1; k <= N; k++)); do
	wait_committed "$k" 200 "$WAIT_MAX_S" "start"
done
echo "ok: four validators commit"

for ((cycle = 1; cycle <= CYCLES; cycle++)); do
	# kill -9 and restart: the journal gives back the whole sequence.
	held=$(committed 3)
	kill -KILL "${pid[3]}"
	wait "${pid[3]}" 2>/dev/null || true
	outage 3 "$DOWN_S" "kill -9"
	start 3
	catchup 3 "restart" 0 "$held"

	# SIGSTOP for STOP_S seconds.
	kill -STOP "${pid[2]}"
	outage 2 "$STOP_S" "SIGSTOP"
	kill -CONT "${pid[2]}"
	catchup 2 "SIGCONT" "$(committed 2)"

	# Cut off at its link, then healed.
	ip link set "${tag}h4" down
	outage 4 "$CUT_S" "cut"
	ip link set "${tag}h4" up
	catchup 4 "heal" "$(committed 4)"
done

# One Byzantine process: validator 1 comes back lying.
stop 1
start 1 --byzantine equivocate,forge,withhold
outage 1 "$BYZANTINE_S" "Byzantine"
for k in 2 3 4; do
	[[ $(field "$k" equivocations) -gt 0 ]] || fail "validator $k proved no equivocation"
	[[ $(field "$k" bad_signature) -gt 0 ]] || fail "validator $k saw no forged signature"
	echo "ok: validator $k proved $(field "$k" equivocations) equivocations," \
		"refused $(field "$k" bad_signature) forged signatures"
done
[[ $(field 1 lies_told) -gt 0 ]] || fail "the Byzantine validator told no lie"

for ((k = 1; k <= N; k++)); do stop "$k"; done

# ---- safety over every status line of the run

python3 - "$tmp" "$N" <<'PY' || fail "the chain marks disagree (above)"
import glob, json, os, sys
tmp, n = sys.argv[1], int(sys.argv[2])
marks = {}  # mark sequence -> {mark: [(validator, incarnation)]}
for k in range(1, n + 1):
    for path in sorted(glob.glob(os.path.join(tmp, f"v{k}", "status.*.jsonl"))):
        run = int(path.rsplit(".", 2)[1])
        for line in open(path):
            if not line.endswith("}}\n"):
                continue
            status = json.loads(line)
            if status["failed"]:
                sys.exit(f"validator {k} (run {run}): its journal failed")
            if status["chain_mark_sequence"] > 0:
                seen = marks.setdefault(status["chain_mark_sequence"], {})
                seen.setdefault(status["chain_mark"], set()).add((k, run))
bad = {seq: seen for seq, seen in marks.items() if len(seen) > 1}
for seq, seen in sorted(bad.items()):
    print(f"sequence {seq}: " + "; ".join(f"{m[:16]} at {sorted(w)}" for m, w in seen.items()))
if bad:
    sys.exit(1)
# Every restarted incarnation agreed with another validator at least once.
shared = [next(iter(seen.values())) for seen in marks.values()]
restarted = {(k, r) for who in shared for (k, r) in who if r > 1}
for k, r in sorted(restarted):
    others = [who for who in shared if (k, r) in who and any(v != k for v, _ in who)]
    print(f"ok: validator {k} run {r} agrees with another validator at {len(others)} marks")
    if not others:
        sys.exit(1)
compared = sum(1 for who in shared if len({v for v, _ in who}) > 1)
print(f"ok: {compared} chain marks compared, all agree (up to sequence {max(marks)})")
if compared < 5 or len(restarted) < 2:
    sys.exit(f"too few comparisons ({compared} marks, {len(restarted)} restarted runs)")
PY
echo "{\"test\": \"consensus_processes\", \"cycles\": $CYCLES, $(IFS=,; echo "${figures[*]}")}"
echo "ok: consensus_processes"
