# shellcheck shell=bash
# Reads scripts/deps.txt (the one list of the packages faii needs and the
# programs the tests run from them) for scripts/setup-deps.sh and
# tests/lib/require.sh. Sourced; bash builtins only, so that it works before
# anything is installed.
#
#   deps_load [FILE]   fills
#     DEPS_INSTALL         the [install] packages, in the file's order
#     DEPS_PACKAGE[prog]   the package that provides prog
#     DEPS_ESSENTIAL[pkg]  1 for the [essential] packages
#   returns 1 (with a message) when FILE cannot be read or is malformed.

# shellcheck disable=SC2034 # the DEPS_* variables are for the scripts that source this
DEPS_FILE_DEFAULT="$(cd "${BASH_SOURCE[0]%/*}" && pwd)/deps.txt"

deps_load() {
	local file=${1:-$DEPS_FILE_DEFAULT} raw line section='' pkg='' no=0 word
	DEPS_INSTALL=()
	declare -gA DEPS_PACKAGE=() DEPS_ESSENTIAL=()
	if [[ ! -r $file ]]; then
		echo "deps: cannot read $file" >&2
		return 1
	fi
	while IFS= read -r raw || [[ -n $raw ]]; do
		no=$((no + 1))
		line=${raw%%#*}
		[[ $line =~ ^[[:space:]]*$ ]] && continue
		if [[ $line =~ ^\[([a-z]+)\][[:space:]]*$ ]]; then
			section=${BASH_REMATCH[1]}
			if [[ $section != essential && $section != install ]]; then
				echo "deps: $file:$no: unknown section [$section]" >&2
				return 1
			fi
			pkg=
			continue
		fi
		if [[ -z $section ]]; then
			echo "deps: $file:$no: a package before [essential] or [install]" >&2
			return 1
		fi
		local -a words
		read -r -a words <<<"$line"
		if [[ $raw != [[:space:]]* ]]; then
			pkg=${words[0]}
			words=("${words[@]:1}")
			if [[ $section == install ]]; then
				DEPS_INSTALL+=("$pkg")
			else
				DEPS_ESSENTIAL[$pkg]=1
			fi
		elif [[ -z $pkg ]]; then
			echo "deps: $file:$no: a continued line without a package" >&2
			return 1
		fi
		for word in "${words[@]}"; do
			DEPS_PACKAGE[$word]=$pkg
		done
	done <"$file"
}
