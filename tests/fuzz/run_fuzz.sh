#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Runs a libFuzzer harness for a bounded time on a throw-away copy of its seed
# corpus, so that the corpus in the repository is never modified.
#
#   run_fuzz.sh FUZZER CORPUS_DIR [extra libFuzzer flags...]
#
# FAII_FUZZ_SECONDS   fuzzing time (default 60)
# FAII_FUZZ_SHARE     divides FAII_FUZZ_SECONDS for this harness (default 1)
# FAII_FUZZ_ARTIFACTS where crash/leak/timeout inputs are kept (default: the
#                     current directory, the build directory under meson test)
# Exits non-zero when the fuzzer finds a crash, a leak, a timeout or an OOM.
set -euo pipefail

if [[ $# -lt 2 ]]; then
	echo "usage: $0 FUZZER CORPUS_DIR [libFuzzer flags...]" >&2
	exit 2
fi
fuzzer=$1
corpus=$2
shift 2

# FAII_FUZZ_SHARE divides it (a harness given a share of the time budget).
seconds=$((${FAII_FUZZ_SECONDS:-60} / ${FAII_FUZZ_SHARE:-1}))
[[ $seconds -ge 1 ]] || seconds=1
artifacts=${FAII_FUZZ_ARTIFACTS:-$PWD}
mkdir -p "$artifacts"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/faii-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp -R "$corpus"/. "$tmp"/

# Sanitizer reports must stop the run, not scroll past.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}

echo "fuzzing $(basename "$fuzzer") for ${seconds}s on a copy of $corpus ($(ls "$tmp" | wc -l) seeds)"
status=0
"$fuzzer" -max_total_time="$seconds" -max_len=1600 -timeout=5 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$artifacts/" "$@" "$tmp" || status=$?
if [[ $status -ne 0 ]]; then
	echo "FAIL: $(basename "$fuzzer") exited with status $status; reproducer saved under $artifacts/" >&2
	exit 1
fi
echo "ok: no crash in ${seconds}s ($(ls "$tmp" | wc -l) corpus entries at the end)"
