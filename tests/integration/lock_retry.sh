#!/usr/bin/env bash
# lock_retry: an "application" session holds FOR UPDATE locks on 100 rows in
# an open transaction. The batch over those rows waits a moment (50 ms) and
# then the lease steps around them (a line on stderr says so): every other
# row is filled while the lock is held, nothing waits on the lock for long,
# the daemon keeps running and comes back for the locked rows, fills them
# once the lock is released, never overwrites the values the application
# wrote under its lock, and exits 0 with no NULL left.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

N=20000
LO=5001
HI=5100
pg_start

psqlf <<SQL
CREATE TABLE t (id bigint PRIMARY KEY, public_id text);
INSERT INTO t SELECT i, NULL FROM generate_series(1, $N) i;
ANALYZE t;
SQL

# The application: a psql session fed through a fifo, so the test decides
# when its transaction ends.
mkfifo "$WORK/app"
psql -X -q -v ON_ERROR_STOP=1 <"$WORK/app" >"$WORK/app.out" 2>&1 &
APP_PID=$!
BG_PIDS+=("$APP_PID")
exec 3>"$WORK/app"
echo "BEGIN; SELECT count(*) FROM (SELECT id FROM t WHERE id BETWEEN $LO AND $HI FOR UPDATE) l;" >&3
echo "UPDATE t SET public_id = 'app-' || id WHERE id BETWEEN $LO AND $((LO + 9));" >&3
wait_for 10 "the application to hold its row locks" \
	sql_true "SELECT count(*) = 1 FROM pg_stat_activity
	           WHERE state = 'idle in transaction' AND query LIKE 'UPDATE t SET%'"
pass "the application holds FOR UPDATE locks on rows $LO..$HI"

bg_bf --table t --column public_id --until-done --batch-size 500 \
	--progress-interval 1
wait_for 30 "the line that the lease skips locked rows" \
	grep -Eqs 'a row is locked by another session; the lease.s batches skip locked rows' "$ERR"
pass "stderr: $(grep -Em1 'a row is locked by another session' "$ERR")"

# Hold the lock a while longer: the daemon keeps going, it neither fails
# nor waits on the lock for long, and fills every row but the locked ones.
# (The 100 locked rows are NULL to us: the application's 10 values are not
# committed yet.)
wait_for 30 "every row but the locked ones filled" sql_true \
	"SELECT count(*) = 100 FROM t WHERE public_id IS NULL"
sleep 2
pid_alive "$BF_PID" || fail "the daemon exited while the rows were locked"
pass "still running while the rows are locked"
assert_sql "SELECT count(*) FROM pg_stat_activity
             WHERE wait_event_type = 'Lock' AND now() - query_start > interval '1 second'" 0 \
	"no session waits on a lock for more than a second"
assert_sql "SELECT count(*) FROM t WHERE (id < $LO OR id > $HI) AND public_id IS NULL" 0 \
	"rows before and after the locked ones are filled"
assert_file_match "$ERR" "progress: .*[0-9]+ rows locked by others, skipped for a later look" \
	"the progress line counts the rows skipped"

echo "COMMIT;" >&3
exec 3>&-
wait_exit "$APP_PID" 10
wait_exit "$BF_PID" 60
assert_eq "$RC" 0 "after the lock is released the backfill completes: exit 0"
assert_sql "SELECT count(*) FROM t WHERE public_id IS NULL" 0 "no NULL left"
assert_sql "SELECT count(*) FROM t WHERE id BETWEEN $LO AND $HI AND public_id ~ '$NB_DEFAULT_ID_RE'" 90 \
	"the 90 locked rows the application left NULL were filled after the release"
assert_sql "SELECT count(*) FROM t WHERE public_id = 'app-' || id" 10 \
	"the 10 values the application wrote under its lock are kept"
assert_sql "SELECT state FROM $NB_JOBS WHERE table_name = 't'" 'done' "state done"


# A lock on the progress table for a moment (another instance's setup
# takes one to add a column): the batches wait for it with --lock-timeout,
# as for any table lock. (The counted direct form's UPDATE leaves the
# 50 ms row lock wait in force for its transaction; the tally, which
# locks the progress table, must not give up after 50 ms and be taken for
# a row the application holds.)
psqlf <<'SQL'
CREATE TABLE p (id bigint PRIMARY KEY, public_id text);
INSERT INTO p SELECT i, NULL FROM generate_series(1, 100000) i;
ANALYZE p;
SQL
bg_bf --table p --column public_id --until-done --order physical --max-rate 25000 \
	--lock-timeout 3000 --log-level debug
wait_for 20 "a counted direct batch" grep -q 'ms (direct, counted)' "$ERR"
psql -X -q -v ON_ERROR_STOP=1 -c "BEGIN" -c "LOCK TABLE $NB_PROGRESS_SCHEMA.leases IN SHARE MODE" \
	-c "SELECT pg_sleep(0.5)" -c "COMMIT" >/dev/null
wait_exit "$BF_PID" 60
assert_eq "$RC" 0 "progress table locked for 0.5 s: exit 0"
assert_sql "SELECT count(*) FILTER (WHERE public_id IS NULL), count(DISTINCT public_id) FROM p" "0|100000" \
	"progress table locked for 0.5 s: every row filled, distinct"
assert_file_nomatch "$ERR" '\(careful\)|locked by another session|a locked row|lock timeout' \
	"progress table locked for 0.5 s: the batches waited, no lease went careful"

finish
