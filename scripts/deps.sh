#!/usr/bin/env bash
# deps.sh - install what building and testing nanoid-backfill needs (Debian).
#
# Installs with apt-get when something is missing (as root), and does nothing
# when everything is already installed; NB_DEPS_FORCE=1 runs apt even then.
# As a non-root user with something missing it says what and exits 1.
set -euo pipefail

PKGS=(
	build-essential meson ninja-build pkg-config   # toolchain
	libpq-dev libsodium-dev libev-dev libinih-dev  # libraries
	check                                          # unit tests
	postgresql postgresql-client                   # integration tests: server + psql
	pgbouncer                                      # tests: poolers.sh runs its own (no service is started for it)
	procps                                         # ps/pgrep when debugging tests
	python3 systemd man-db groff-base              # tests: JSON checks, systemd-analyze, man page warnings
	bsdutils                                       # tests: script(1), the pseudo-terminal of progress_bar.sh (Essential; named for clarity)
	valgrind                                       # scripts/valgrind.sh: memcheck stage
	clang libclang-rt-dev                          # scripts/fuzz.sh: libFuzzer (-fsanitize=fuzzer)
	debhelper dpkg-dev lintian                     # tests: deb_package.sh builds and checks the .deb
	nodejs sql-migrate                             # tests: plan_formats.sh runs knex and dbmate (from npm) and sql-migrate
)
# plan_formats.sh installs knex and dbmate with npm. Debian's npm package
# conflicts with a nodejs from NodeSource, which brings its own npm: it is
# wanted only where no npm is found.
command -v npm >/dev/null 2>&1 || PKGS+=(npm)

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps: not a Debian system (no dpkg-query); install the equivalent of: ${PKGS[*]}"
	exit 0
fi

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} == 0)) && [[ ${NB_DEPS_FORCE:-0} != 1 ]]; then
	echo "deps: all ${#PKGS[@]} packages present, skipping apt-get"
	exit 0
fi

if ((EUID != 0)); then
	echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: run as root (or: sudo apt-get install -y --no-install-recommends ${missing[*]})" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "deps: missing: ${missing[*]:-none}; running apt-get update"
apt-get update
echo "deps: apt-get install -y --no-install-recommends ${PKGS[*]}"
apt-get install -y --no-install-recommends "${PKGS[@]}"
