#!/usr/bin/env bash
# README command 2: install what is missing, build the normal and the
# sanitizer (ASan+UBSan, clang, with the libFuzzer harnesses) trees, and run
# every test in both. Ends with one summary line "N passed, M failed".
#   FAII_FUZZ_SECONDS  bounded fuzzing time per harness (default 60)
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash scripts/setup-deps.sh || exit 1
# shellcheck source=../tests/lib/require.sh
. tests/lib/require.sh
require meson ninja clang python3

build() { # dir, meson options...
	local dir=$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" || return 1
	fi
	ninja -C "$dir"
}

build build || exit 1
CC=clang build build-asan -Db_sanitize=address,undefined -Dfuzzer=true || exit 1

# Sanitizers abort on the first finding, so no report goes unnoticed.
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

# The simulations and the fuzzers are CPU-bound and keep their own (simulated
# or libFuzzer) time, so they run two at a time; everything else, whose
# processes, sockets and timeouts share the machine, runs one at a time.
# Each part keeps its own log (meson-logs/<part>.json).
status=0
for dir in build build-asan; do
	meson test -C "$dir" --print-errorlogs --num-processes 2 --logbase cpu-bound \
		--suite sim --suite fuzz || status=1
	meson test -C "$dir" --print-errorlogs --num-processes 1 --logbase serial \
		--no-suite sim --no-suite fuzz || status=1
done

# One closing line over both trees, from meson's machine-readable logs.
python3 - build*/meson-logs/cpu-bound.json build*/meson-logs/serial.json <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    for line in open(path):
        result = json.loads(line)["result"]
        if result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
