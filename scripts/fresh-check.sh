#!/usr/bin/env bash
# The README's test command (and, with --run, its run command) as a new user
# would meet it: on a fresh minimal Debian 12 (debootstrap --variant=minbase
# bookworm, from the mirror this machine's apt uses, with only git,
# ca-certificates and sudo added), in a clone of the current commit with
# ../shared beside it, `bash .ci/run` as CI runs it. Proves that
# scripts/setup-deps.sh installs everything the build and the tests use
# (docs/testing.md says when to run it). Slow: a full install, two builds and
# every test. Needs root (debootstrap, chroot, mounts); installs debootstrap
# on this machine when it is missing.
#
#   sudo bash scripts/fresh-check.sh [--run] [--keep] [--cache-debootstrap FILE]
#                                    [--dir DIR] [--mirror URL]
#
#   --run                  also `bash scripts/run.sh 10` after the tests
#   --keep                 keep the chroot directory (its mounts are undone)
#   --cache-debootstrap F  reuse the debootstrapped base from tarball F, or
#                          write F after a debootstrap when it does not exist
#                          (opt-in: by default nothing is cached between runs)
#   --dir DIR              where the chroot goes (default /var/tmp; needs
#                          about 8 GiB)
#   --mirror URL           the Debian mirror (default: the one of the bookworm
#                          main entry in /etc/apt/sources.list{,.d/*})
#
# FAII_* variables of the caller reach the tests (FAII_FUZZ_SECONDS=10 for a
# shorter fuzzing budget). The whole output is kept in DIR/faii-fresh-*.log.
# The last line printed is the test runner's summary, "N passed, M failed,
# K skipped"; the exit status is 0 only when the test command (and run.sh)
# succeeded with 0 failed.
set -euo pipefail

# All of it in one group, read whole before it runs: the script may be edited
# (or checked out anew) while a check runs, and bash reads a script as it goes.
# shellcheck disable=SC2317 # the clean-up runs from a trap
{
usage() { awk '/^#   sudo/ {p = 1} /^# FAII_/ {exit} p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

run_demo=false keep=false cache='' parent=/var/tmp mirror=''
while (($#)); do
	case $1 in
	--run) run_demo=true ;;
	--keep) keep=true ;;
	--cache-debootstrap)
		cache=${2:?--cache-debootstrap needs a file}
		shift
		;;
	--dir)
		parent=${2:?--dir needs a directory}
		shift
		;;
	--mirror)
		mirror=${2:?--mirror needs a URL}
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "fresh-check: unknown argument '$1'" >&2
		usage >&2
		exit 2
		;;
	esac
	shift
done

say() { echo "fresh-check: $*"; }
die() {
	echo "fresh-check: $*" >&2
	exit 1
}

((EUID == 0)) || die "needs root (debootstrap, chroot, mounts): sudo bash $0"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=$(cd "$root/.." && pwd)/shared
[ -d "$shared" ] || die "no $shared: the spec must sit beside the repository"
commit=$(git -C "$root" rev-parse HEAD)
if [ -n "$(git -C "$root" status --porcelain --untracked-files=no)" ]; then
	say "note: uncommitted changes are not checked, only commit ${commit:0:12}"
fi

# ---------------------------------------------------------------------------
# The Debian entries of this machine's apt sources, one "URI SUITE COMPONENT..."
# line each: one-line .list files and deb822 .sources files.
apt_entries() {
	local f line types uris suites comps enabled key value
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		while IFS= read -r line || [ -n "$line" ]; do
			line=${line%%#*}
			# deb [options] URI SUITE COMPONENT...
			[[ $line =~ ^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?(.*)$ ]] || continue
			echo "${BASH_REMATCH[2]}"
		done <"$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		types='' uris='' suites='' comps='' enabled=yes
		while IFS= read -r line || [ -n "$line" ]; do
			if [[ $line =~ ^[[:space:]]*$ ]]; then
				emit_stanza
				types='' uris='' suites='' comps='' enabled=yes
				continue
			fi
			[[ $line == \#* || $line == [[:space:]]* ]] && continue
			key=${line%%:*}
			value=${line#*:}
			case ${key,,} in
			types) types=$value ;;
			uris) uris=$value ;;
			suites) suites=$value ;;
			components) comps=$value ;;
			enabled) enabled=${value// /} ;;
			esac
		done <"$f"
		emit_stanza
	done
}
emit_stanza() {
	local uri suite
	[[ " $types " == *" deb "* && $enabled != no ]] || return 0
	for uri in $uris; do
		for suite in $suites; do
			# shellcheck disable=SC2086 # the components, one space apart
			echo "$uri $suite" $comps
		done
	done
}

mapfile -t entries < <(apt_entries | awk '$2 ~ /^bookworm(-updates|-security)?$/ && / main( |$)/')
if [ -z "$mirror" ]; then
	mirror=$(printf '%s\n' "${entries[@]}" | awk '$2 == "bookworm" {print $1; exit}')
	[ -n "$mirror" ] || die "no 'bookworm main' entry in this machine's apt sources: give --mirror URL"
fi
# The chroot's apt sources: this machine's bookworm, -updates and -security
# entries (what a Debian 12 install has), or the given mirror alone.
chroot_sources=$(printf 'deb %s\n' "${entries[@]}")
if [[ $'\n'$chroot_sources != *$'\n'"deb $mirror bookworm "* ]]; then
	chroot_sources="deb $mirror bookworm main"
fi

# ---------------------------------------------------------------------------
# Where, and the clean-up that undoes everything, whatever happens.
mkdir -p "$parent"
avail_kb=$(df -Pk "$parent" | awk 'NR == 2 {print $4}')
((avail_kb > 8 * 1024 * 1024)) || die "$parent has $((avail_kb / 1024)) MiB free, 8 GiB needed: --dir DIR"
work=$(mktemp -d "$parent/faii-fresh.XXXXXX")
chr=$work/root
log=$parent/faii-fresh-$(date +%Y%m%d-%H%M%S).log
: >"$log"
say "chroot $chr, log $log"

# Mount points under the chroot, deepest first (from this process's view).
chroot_mounts() {
	awk -v p="$chr" '$5 == p || index($5, p "/") == 1 {print $5}' /proc/self/mountinfo |
		awk '{print length($0), $0}' | sort -rn | cut -d' ' -f2-
}
cleanup() {
	local rc=$? pid link m left
	set +e
	# Processes whose root is the chroot (a test's leftover): started by this
	# script, ended by their pid.
	for link in /proc/[0-9]*/root; do
		pid=${link#/proc/}
		pid=${pid%/root}
		[ "$(readlink "$link" 2>/dev/null)" = "$chr" ] && kill -KILL "$pid" 2>/dev/null
	done
	for _ in 1 2 3; do
		mapfile -t left < <(chroot_mounts)
		((${#left[@]})) || break
		for m in "${left[@]}"; do
			umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
		done
	done
	mapfile -t left < <(chroot_mounts)
	if ((${#left[@]})); then
		echo "fresh-check: still mounted, $work left in place: ${left[*]}" >&2
	elif $keep; then
		echo "fresh-check: kept $work" >&2
	else
		rm -rf --one-file-system "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---------------------------------------------------------------------------
# The base system.
if ! command -v debootstrap >/dev/null; then
	say "installing debootstrap on this machine (for fresh-check only)"
	apt-get update -qq >>"$log" 2>&1
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		debootstrap debian-archive-keyring >>"$log" 2>&1 || die "cannot install debootstrap (see $log)"
fi
t0=$SECONDS
mkdir -p "$chr"
if [ -n "$cache" ] && [ -f "$cache" ]; then
	say "base system from $cache"
	tar -xpf "$cache" -C "$chr"
else
	say "debootstrap --variant=minbase bookworm from $mirror"
	debootstrap --variant=minbase --include=git,ca-certificates,sudo bookworm "$chr" "$mirror" \
		>>"$log" 2>&1 || die "debootstrap failed (see $log)"
	if [ -n "$cache" ]; then
		say "writing $cache"
		tar -cpf "$cache" -C "$chr" .
	fi
fi
printf '%s\n' "$chroot_sources" >"$chr/etc/apt/sources.list"
cp -L /etc/resolv.conf "$chr/etc/resolv.conf"
[ -e "$chr/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$chr/etc/hosts"

# What a booted Debian 12 has mounted: a root that is a mount point (`ip
# netns exec` makes / a slave in its namespace), proc, sys (with bpffs), dev
# (with pts and shm), a tmpfs /run. The binds are made private or slaves at
# once, so that nothing unmounted under the chroot is unmounted on this
# machine.
mount --bind "$chr" "$chr"
mount --make-private "$chr"
mount -t proc proc "$chr/proc"
mount --rbind /sys "$chr/sys"
mount --make-rslave "$chr/sys"
mount --rbind /dev "$chr/dev"
mount --make-rslave "$chr/dev"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$chr/run"
if ! mountpoint -q "$chr/sys/fs/bpf"; then
	mount -t bpf -o mode=0700 bpf "$chr/sys/fs/bpf"
fi

# A fresh clone of the commit, and a read-only copy of shared/ beside it (as
# CI lays it out).
mkdir -p "$chr/work"
git clone -q --no-checkout "$root" "$chr/work/faii" >>"$log" 2>&1
if ! git -C "$chr/work/faii" cat-file -e "$commit^{commit}" 2>/dev/null; then
	git -C "$root" push -q "$chr/work/faii" "$commit:refs/heads/fresh-check" >>"$log" 2>&1
fi
git -C "$chr/work/faii" checkout -q --detach "$commit"
cp -a "$shared" "$chr/work/shared"
chmod -R a-w "$chr/work/shared"
say "base system ready in $((SECONDS - t0)) s; clone of ${commit:0:12} in /work/faii"

# ---------------------------------------------------------------------------
# Inside: a clean environment as on a new machine, as root, no terminal.
inside_env=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	TERM=dumb CI=true)
while IFS='=' read -r name _; do
	[[ $name == FAII_* ]] && inside_env+=("$name=${!name}")
done < <(env)
# inside COMMAND FILE...: bash runs COMMAND in /work/faii; its output goes to
# the terminal, the log and FILEs. In the background, waited for, so that a
# signal reaches the clean-up at once (which ends the chroot's processes).
inside() {
	local cmd=$1 child
	shift
	(chroot "$chr" /usr/bin/env -i "${inside_env[@]}" /bin/bash -c "cd /work/faii && $cmd" \
		</dev/null 2>&1 | tee -a "$log" "$@") &
	child=$!
	wait "$child"
}

say "bash .ci/run (the README's test command)"
t1=$SECONDS
test_rc=0
inside "bash .ci/run" "$work/test.out" || test_rc=$?
say "bash .ci/run exited with status $test_rc after $((SECONDS - t1)) s"

run_rc=0
if $run_demo; then
	say "bash scripts/run.sh 10 (the README's run command)"
	inside "bash scripts/run.sh 10" || run_rc=$?
	say "bash scripts/run.sh 10 exited with status $run_rc"
fi

summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$work/test.out" | tail -n 1 || true)
say "total $((SECONDS - t0)) s; log $log"
if [ -z "$summary" ]; then
	echo "fresh-check: the test command printed no summary line" >&2
	exit 1
fi
failed=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$summary")
echo "$summary"
[ "$test_rc" -eq 0 ] && [ "$run_rc" -eq 0 ] && [ "$failed" -eq 0 ]
exit
}
