# shellcheck shell=bash
# as_root.sh - sourced (not run) by the scripts the READMEs tell users to run
# (scripts/demo.sh, scripts/test.sh, bench/throughput.sh, bench/online.sh):
# they need root (apt-get in scripts/deps.sh; the throwaway PostgreSQL of
# scripts/pgtmp.sh runs as the postgres OS user).
#
#   source "$(dirname "$0")/as_root.sh"   # or .../../scripts/as_root.sh
#   as_root VAR... -- "$@"
#
# As root: returns and the script goes on. Otherwise re-runs the script
# ("$0" with the same arguments, in the same directory) through sudo, keeping
# the environment variables named (the script's parameters) plus those the
# shared helpers read (scripts/deps.sh, scripts/pgtmp.sh); sudo resets every
# other one. Without sudo it prints one line and exits 1.

# Parameters of the helpers every one of those scripts calls.
AS_ROOT_COMMON_ENV=(NB_DEPS_FORCE PG_BINDIR PGTMP_CONF)

as_root() {
	local names=() keep=() v
	while (($# > 0)) && [[ $1 != -- ]]; do
		names+=("$1")
		shift
	done
	(($# > 0)) && shift # the --
	if [[ $(id -u) == 0 ]]; then
		return 0
	fi
	local self
	self=$(basename "$0")
	if ! command -v sudo >/dev/null 2>&1; then
		echo "$self: needs root and sudo is not installed: run as root or install sudo" >&2
		exit 1
	fi
	for v in "${names[@]}" "${AS_ROOT_COMMON_ENV[@]}"; do
		if [[ -v $v ]]; then
			keep+=("$v")
		fi
	done
	echo "$self: not root, re-running through sudo" >&2
	if ((${#keep[@]} > 0)); then
		local IFS=,
		exec sudo --preserve-env="${keep[*]}" -- "$BASH" "$0" "$@"
	fi
	exec sudo -- "$BASH" "$0" "$@"
}
