#!/usr/bin/env bash
# lock_retry: an "application" session holds FOR UPDATE locks on 100 rows in
# an open transaction. With --lock-timeout 100 the batch over those rows
# times out and is retried (a warning on stderr) instead of waiting; the
# daemon keeps running while the lock is held, fills the rows once the lock
# is released, never overwrites the values the application wrote under its
# lock, and exits 0 with no NULL left.
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
	--lock-timeout 100 --progress-interval 1
wait_for 30 "a lock timeout retry warning" \
	grep -Eiqs 'warn.*lock timeout.*retry' "$ERR"
pass "stderr: $(grep -Eim1 'warn.*lock timeout.*retry' "$ERR")"

# Hold the lock a while longer: the daemon keeps retrying, it neither fails
# nor waits on the lock for long.
sleep 3
pid_alive "$BF_PID" || fail "the daemon exited while the rows were locked"
pass "still running while the rows are locked"
retries=$(grep -Eic 'lock timeout' "$ERR")
((retries >= 2)) || fail "want repeated lock timeout retries, got $retries"
pass "$retries lock timeout retries while the lock was held"
assert_sql "SELECT count(*) FROM pg_stat_activity
             WHERE wait_event_type = 'Lock' AND now() - query_start > interval '1 second'" 0 \
	"no session waits on a lock for more than a second"
assert_sql "SELECT count(*) FROM t WHERE id < $LO AND public_id IS NULL" 0 \
	"rows before the locked ones are filled"

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

finish
