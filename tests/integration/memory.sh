#!/usr/bin/env bash
# memory: the daemon's peak RSS does not grow with the table: a run over
# 400,000 rows peaks within 2 MiB of a run over 20,000 rows (same batch size).
# Peak RSS is VmHWM from /proc, read while the daemon runs.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

SMALL=20000
LARGE=400000
BATCH=1000
MAX_GROWTH_KB=2048

# AddressSanitizer keeps freed memory in quarantine and maps shadow memory:
# RSS there measures ASan, not the daemon. Meson counts exit 77 as skipped.
# Read all of ldd's output first: grep -q exiting early would SIGPIPE ldd,
# and under pipefail that reads as "no libasan".
libs=$(ldd "$NB" 2>/dev/null || true)
if [[ $libs == *libasan* ]]; then
	echo "# skip: $NB is built with AddressSanitizer"
	exit 77
fi

pg_start
psqlf <<SQL
CREATE TABLE small (id bigint PRIMARY KEY, public_id text);
INSERT INTO small SELECT i, NULL FROM generate_series(1, $SMALL) i;
CREATE TABLE large (id bigint PRIMARY KEY, public_id text);
INSERT INTO large SELECT i, NULL FROM generate_series(1, $LARGE) i;
ANALYZE;
SQL

# peak_rss TABLE: runs the daemon over TABLE; sets PEAK_KB to its peak RSS.
peak_rss() {
	local v end=$((SECONDS + BF_TIMEOUT))
	PEAK_KB=0
	bg_bf --table "$1" --column public_id --until-done --batch-size "$BATCH"
	while pid_alive "$BF_PID"; do
		v=$(vm_hwm_kb "$BF_PID")
		((v <= PEAK_KB)) || PEAK_KB=$v
		((SECONDS < end)) || fail "run over $1 still running after $BF_TIMEOUT s"
		sleep 0.05
	done
	wait_exit "$BF_PID" 5
	assert_eq "$RC" 0 "$1: exit 0"
}

peak_rss small
small_kb=$PEAK_KB
assert_sql "SELECT count(*) FROM small WHERE public_id IS NULL" 0 "small: filled"
peak_rss large
large_kb=$PEAK_KB
assert_sql "SELECT count(*) FROM large WHERE public_id IS NULL" 0 "large: filled"
echo "# peak RSS: $SMALL rows ${small_kb} kB, $LARGE rows ${large_kb} kB"
((small_kb > 0 && large_kb > 0)) || fail "could not read VmHWM"
((large_kb - small_kb < MAX_GROWTH_KB)) ||
	fail "peak RSS grew by $((large_kb - small_kb)) kB from $SMALL to $LARGE rows (limit $MAX_GROWTH_KB kB)"
pass "peak RSS grew by $((large_kb - small_kb)) kB (< $MAX_GROWTH_KB kB) from $SMALL to $LARGE rows"

finish
