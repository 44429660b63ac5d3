#!/usr/bin/env bash
# valgrind.sh - the unit tests and one integration test under valgrind
# memcheck; any error, or any definite or indirect leak, fails.
#
#   scripts/valgrind.sh [BUILD_DIR]     default: build (a meson build dir,
#                                       already compiled; not a sanitizer
#                                       build: ASan and valgrind do not mix)
#   VALGRIND_INTEGRATION="fill_basic"   integration tests to run (by name)
#
# Unit tests run with CK_FORK=no, so Check keeps every test in the process
# valgrind watches. The integration tests get a wrapper in place of the
# binary that runs each daemon under valgrind with a log file per process.
# Prints "ok - ..." / "not ok - ..." per test and "valgrind: N passed, M
# failed"; logs are in BUILD_DIR/valgrind-logs/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

B=$(cd "${1:-build}" && pwd)
LOGS=$B/valgrind-logs
rm -rf "$LOGS"
mkdir -p "$LOGS"
command -v valgrind >/dev/null || { echo "valgrind: not installed (scripts/deps.sh)" >&2; exit 1; }

# shellcheck disable=SC2054 # the commas are valgrind's
VG=(valgrind -q --error-exitcode=99 --leak-check=full
	--errors-for-leak-kinds=definite,indirect --num-callers=30)
passed=0
failed=0

# verdict NAME RC OUTPUT VGLOG...: ok when RC is 0 and every log is empty.
verdict() {
	local name=$1 rc=$2 out=$3 dirty=()
	shift 3
	for f in "$@"; do
		[[ ! -s $f ]] || dirty+=("$f")
	done
	if ((rc == 0 && ${#dirty[@]} == 0 && $# > 0)); then
		echo "ok - $name: no error, no leak ($# process$( (($# == 1)) || echo es))"
		passed=$((passed + 1))
		return
	fi
	echo "not ok - $name: exit $rc, ${#dirty[@]} valgrind report(s)"
	for f in "${dirty[@]}"; do
		head -n 40 "$f" | sed 's/^/#   /'
	done
	((rc == 0)) || tail -n 20 "$out" | sed 's/^/#   /'
	failed=$((failed + 1))
}

for t in "$B"/tests/unit/test_*; do
	[[ -f $t && -x $t ]] || continue
	name=$(basename "$t")
	rc=0
	CK_FORK=no SOURCE_ROOT=$ROOT "${VG[@]}" --log-file="$LOGS/$name.vg" "$t" \
		>"$LOGS/$name.out" 2>&1 || rc=$?
	verdict "unit $name" "$rc" "$LOGS/$name.out" "$LOGS/$name.vg"
done

WRAPPER=$LOGS/nanoid-backfill
for t in ${VALGRIND_INTEGRATION:-fill_basic}; do
	cat >"$WRAPPER" <<EOF
#!/bin/sh
exec ${VG[*]} --log-file=$LOGS/$t.%p.vg $B/nanoid-backfill "\$@"
EOF
	chmod +x "$WRAPPER"
	rc=0
	bash "tests/integration/$t.sh" "$WRAPPER" >"$LOGS/$t.out" 2>&1 || rc=$?
	shopt -s nullglob
	logs=("$LOGS/$t".*.vg)
	shopt -u nullglob
	verdict "integration $t ($(tail -n 1 "$LOGS/$t.out"))" "$rc" "$LOGS/$t.out" "${logs[@]}"
done

echo "valgrind: $passed passed, $failed failed"
((failed == 0))
