# shellcheck shell=bash
# Sourced by the tests of the tools that read a JSON scenario
# (faii-equilibrium, faii-settle); the caller defines ok and bad, and sets
# $tool and $tmp:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/../lib/refused_file.sh"
#
# refused_file DESCRIPTION FILE REGEX: `$tool --scenario FILE` exits 2,
# prints nothing on stdout, and its error names the file, then what REGEX
# matches ("FILE: REGEX").
# shellcheck disable=SC2154 # $tool and $tmp are the caller's
refused_file() {
	local what=$1 file=$2 regex=$3 rc
	"$tool" --scenario "$file" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq 2 ] && grep -qE -- "$file: $regex" "$tmp/err" && [ ! -s "$tmp/out" ]; then
		ok "refused: $what"
	else
		bad "refused: $what: status $rc, stderr: $(cat "$tmp/err")"
	fi
}
