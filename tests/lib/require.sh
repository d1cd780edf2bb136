# shellcheck shell=bash
# Sourced by the test scripts (and the two README commands):
#
#   . "$(dirname "${BASH_SOURCE[0]}")/../lib/require.sh"
#   require groff man python3
#
# require PROGRAM...: every PROGRAM must be listed in scripts/deps.txt, the one
# list of what scripts/setup-deps.sh installs, and be installed. Otherwise the
# test fails (exit 1, never a skip) with one line per program that says which
# Debian package provides it, or that no listed package does: a test cannot
# depend on a program that a fresh Debian 12 set up with setup-deps.sh lacks.
# tests/lint/deps_declared.py checks that each script requires what it runs
# (programs of the [essential] packages excepted).

# shellcheck source=../../scripts/deps.sh
. "${BASH_SOURCE[0]%/*}/../../scripts/deps.sh"

require() {
	local prog pkg bad=0
	if [[ -z ${DEPS_PACKAGE+set} ]]; then
		deps_load || exit 1
	fi
	for prog in "$@"; do
		pkg=${DEPS_PACKAGE[$prog]:-}
		if [[ -z $pkg ]]; then
			echo "FAIL: require $prog: no package in scripts/deps.txt provides $prog;" \
				"add the Debian package that does, with $prog after it" >&2
			bad=1
		elif ! command -v "$prog" >/dev/null 2>&1; then
			echo "FAIL: require $prog: $prog is not installed; it comes from the Debian" \
				"package $pkg (bash scripts/setup-deps.sh installs it)" >&2
			bad=1
		fi
	done
	if ((bad)); then exit 1; fi
}
