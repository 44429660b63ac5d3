#!/usr/bin/env bash
# idle_passes: once the column is filled, a service's idle passes cost next
# to nothing. With a single integer key a pass first probes past the
# high-water mark (an index range) and skips the walk when it finds no NULL;
# the whole table is looked at every --full-sweep-interval. Counted in heap
# pages read (pg_statio_user_tables), not in seconds.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

N=200000
pg_start
psqlf <<SQL
CREATE TABLE t (id bigint PRIMARY KEY, pad text, public_id text);
INSERT INTO t SELECT i, repeat('x', 40), NULL FROM generate_series(1, $N) i;
ANALYZE t;
-- autovacuum's own reads of the table would count as the passes'
ALTER TABLE t SET (autovacuum_enabled = false);
SQL

heap_pages() {
	psqlc "SELECT heap_blks_read + heap_blks_hit FROM pg_statio_user_tables WHERE relname = 't'"
}
table_pages() { psqlc "SELECT pg_relation_size('t') / current_setting('block_size')::int"; }

bg_bf --table t --column public_id --idle-interval 0.3 --full-sweep-interval 1h \
	--progress-interval 1 --log-level debug
wait_for 60 "the first pass to fill every row" \
	sql_true "SELECT count(*) = 0 FROM t WHERE public_id IS NULL"
# Two whole-table probes follow a pass (the mark moves up one probe late);
# then the probes go past the mark only.
wait_for 20 "a probe past the high-water mark" \
	grep -q 'past the high-water mark probe: nothing to fill' "$ERR"
# A backend flushes its statistics at most once a second while it works:
# let the whole-table probes' reads arrive before the window opens.
sleep 1.5
p0=$(heap_pages)
probes0=$(grep -c 'probe: nothing to fill' "$ERR")
sleep 3
p1=$(heap_pages)
probes1=$(grep -c 'probe: nothing to fill' "$ERR")
pages=$(table_pages)
((probes1 - probes0 >= 5)) || fail "idle: want at least 5 probes in 3 s, got $((probes1 - probes0))"
pass "idle: $((probes1 - probes0)) probes in 3 s"
((p1 - p0 < 50)) || fail "idle: want < 50 heap pages read in 3 s of idle passes, got $((p1 - p0)) (the table has $pages)"
pass "idle: $((p1 - p0)) heap pages read by $((probes1 - probes0)) idle passes (the table has $pages)"
assert_sql "SELECT passes FROM $NB_JOBS WHERE table_name = 't'" 1 "idle: no pass walked the table again"

# Rows past the mark: the next probe finds them and a pass fills them.
psqlc "INSERT INTO t SELECT i, 'new', NULL FROM generate_series($((N + 1)), $((N + 300))) i" >/dev/null
wait_for 10 "the 300 rows past the mark to be filled" \
	sql_true "SELECT count(*) = 0 FROM t WHERE public_id IS NULL"
pass "past the mark: 300 new rows filled"
assert_sql "SELECT passes FROM $NB_JOBS WHERE table_name = 't'" 2 "past the mark: one more pass"

# A row set back to NULL below the mark waits for the full sweep (1 h away).
wait_for 20 "the probes to go past the mark again" \
	sql_true "SELECT hwm >= $((N + 300)) FROM $NB_PROGRESS_SCHEMA.jobs WHERE table_name = 't'"
psqlc "UPDATE t SET public_id = NULL WHERE id = 17" >/dev/null
sleep 2
assert_sql "SELECT count(*) FROM t WHERE public_id IS NULL" 1 "below the mark: not filled between sweeps"
kill -TERM "$BF_PID"
wait_exit "$BF_PID" 10
assert_eq "$RC" 0 "SIGTERM: exit 0"

# A service with a short sweep interval finds it.
bg_bf --table t --column public_id --idle-interval 0.3 --full-sweep-interval 1s --progress-interval 1
wait_for 20 "the full sweep to fill the row below the mark" \
	sql_true "SELECT count(*) = 0 FROM t WHERE public_id IS NULL"
pass "full sweep: the row below the mark is filled"
kill -TERM "$BF_PID"
wait_exit "$BF_PID" 10
assert_eq "$RC" 0 "SIGTERM: exit 0"
assert_sql "SELECT count(DISTINCT public_id) FROM t" "$((N + 300))" "every id distinct"
assert_sql "SELECT count(*) FROM t WHERE pad = 'new' AND public_id IS NULL" 0 "new rows filled"

finish
