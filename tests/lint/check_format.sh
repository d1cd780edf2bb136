#!/usr/bin/env bash
# The tree is clang-formatted (.clang-format at the root): any C file that
# clang-format would change fails this test, naming the file.
#   check_format.sh SOURCE_ROOT
set -uo pipefail
# The programs this test runs, checked against scripts/deps.txt.
# shellcheck source=../lib/require.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/require.sh"
require clang-format
cd "$1"
mapfile -t files < <(find appliance common control dataplane ebpf include ledger perf tests tools \
	-name '*.[ch]' -not -path '*/corpus/*' -not -path '*/layers_fixture/*' 2>/dev/null | sort)
bad=0
for f in "${files[@]}"; do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "FAIL: $f is not clang-formatted (run: clang-format -i $f)"
		bad=$((bad + 1))
	fi
done
echo "${#files[@]} files checked, $bad not formatted"
[ "$bad" -eq 0 ]
