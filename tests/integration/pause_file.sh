#!/usr/bin/env bash
# pause_file: while the --pause-file exists the backfill fills nothing and
# says "throttled: pause file"; removing the file resumes it, and it
# completes. Also mid-run: touching the file pauses a running backfill.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

N=100000
PAUSE=$WORK/pause
pg_start

psqlf <<SQL
CREATE TABLE t (id bigint PRIMARY KEY, public_id text);
INSERT INTO t SELECT i, NULL FROM generate_series(1, $N) i;
CREATE TABLE t2 (id bigint PRIMARY KEY, public_id text);
INSERT INTO t2 SELECT i, NULL FROM generate_series(1, $N) i;
ANALYZE;
SQL

# 1. Present from the start.
touch "$PAUSE"
bg_bf --table t --column public_id --until-done --batch-size 1000 \
	--pause-file "$PAUSE" --progress-interval 1
wait_for 20 "'throttled: pause file' on stderr" \
	grep -Eqs "${NB_THROTTLED_RE}pause file" "$ERR"
pass "stderr: $(grep -Em1 "${NB_THROTTLED_RE}pause file" "$ERR")"
sleep 3
assert_sql "SELECT count(public_id) FROM t" 0 "no row filled while the pause file exists"
assert_eq "$(view_rows_done t)" 0 "job_progress.rows_done is 0"
pid_alive "$BF_PID" || fail "the daemon exited while paused"
pass "the daemon waits (still running)"

rm -f "$PAUSE"
wait_exit "$BF_PID" 60
assert_eq "$RC" 0 "pause file removed: the backfill completes, exit 0"
assert_sql "SELECT count(*) FROM t WHERE public_id IS NULL" 0 "no NULL left"
assert_sql "SELECT rows_done FROM $NB_PROGRESS_VIEW WHERE table_name = 't'" "$N" \
	"job_progress.rows_done = $N"

# 2. Touched mid-run (slowed down so it is still running).
bg_bf --table t2 --column public_id --until-done --batch-size 500 \
	--max-rate 10000 --pause-file "$PAUSE" --progress-interval 1
wait_for 20 "the first rows of t2" sql_true "SELECT count(public_id) > 5000 FROM t2"
touch "$PAUSE"
wait_for 10 "'throttled: pause file' on stderr" \
	grep -Eqs "${NB_THROTTLED_RE}pause file" "$ERR"
sleep 1.5
before=$(view_rows_done t2)
sleep 3
after=$(view_rows_done t2)
assert_eq "$after" "$before" "mid-run: rows_done does not grow while the file exists (3 s)"
((before < N)) || fail "mid-run: the run finished before the pause ($before rows)"
pass "mid-run: paused at $before of $N rows"
rm -f "$PAUSE"
wait_exit "$BF_PID" 60
assert_eq "$RC" 0 "mid-run: resumed and completed, exit 0"
assert_sql "SELECT count(*) FROM t2 WHERE public_id IS NULL" 0 "mid-run: no NULL left"

finish
