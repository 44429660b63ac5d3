#!/usr/bin/env bash
# service_mode: without --until-done the daemon keeps filling rows inserted
# with NULL after its first pass, and SIGTERM stops it cleanly. SIGTERM in the
# middle of a long run lets the in-flight batch commit and be recorded.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

N=20000
N_LONG=200000
pg_start

psqlf <<SQL
CREATE TABLE t (id bigint PRIMARY KEY, public_id text);
INSERT INTO t SELECT i, NULL FROM generate_series(1, $N) i;
CREATE TABLE t_long (id bigint PRIMARY KEY, public_id text);
INSERT INTO t_long SELECT i, NULL FROM generate_series(1, $N_LONG) i;
ANALYZE;
SQL

# 1. Service mode: a pass, then new NULL rows, then SIGTERM.
bg_bf --table t --column public_id --idle-interval 1 --progress-interval 1
wait_for 40 "the first pass to fill every row" \
	sql_true "SELECT count(*) = 0 FROM t WHERE public_id IS NULL"
pass "service: first pass filled $N rows"

# New rows both after and before every key the first pass saw.
psqlc "INSERT INTO t SELECT i, NULL FROM generate_series($((N + 1)), $((N + 450))) i;
       INSERT INTO t SELECT i, NULL FROM generate_series(-50, -1) i"
wait_for 10 "the 500 new NULL rows to be filled" \
	sql_true "SELECT count(*) = 0 FROM t WHERE public_id IS NULL"
pass "service: 500 rows inserted later were filled within 10 s"
assert_sql "SELECT count(*) FROM t WHERE public_id !~ '$NB_DEFAULT_ID_RE'" 0 "service: default nanoids"
pid_alive "$BF_PID" || fail "service: the daemon exited on its own"
pass "service: still running"

kill -TERM "$BF_PID"
wait_exit "$BF_PID" 10
assert_eq "$RC" 0 "service: SIGTERM -> exit 0 within 10 s"
assert_file_match "$ERR" "$NB_STOP_RE" "service: stderr mentions stopping"
assert_sql "SELECT state FROM $NB_JOBS WHERE table_name = 't'" stopped "service: state stopped"
assert_sql "SELECT rows_done FROM $NB_JOBS WHERE table_name = 't'" "$((N + 500))" \
	"service: rows_done counts both passes ($((N + 500)))"
assert_sql "SELECT passes >= 2 FROM $NB_JOBS WHERE table_name = 't'" t "service: at least two passes recorded"

# 2. SIGTERM in the middle of a long run.
bg_bf --table t_long --column public_id --until-done --batch-size 200 --progress-interval 1
wait_for 30 "the long run to commit its first batches" \
	sql_true "SELECT rows_done >= 1000 FROM $NB_JOBS WHERE table_name = 't_long'"
kill -TERM "$BF_PID"
wait_exit "$BF_PID" 10
assert_eq "$RC" 0 "mid-run: SIGTERM -> exit 0 within 10 s"
assert_file_match "$ERR" "$NB_STOP_RE" "mid-run: stderr mentions stopping"
assert_sql "SELECT count(*) > 0 FROM t_long WHERE public_id IS NULL" t "mid-run: stopped before the end"
assert_sql "SELECT rows_done = (SELECT count(public_id) FROM t_long) FROM $NB_JOBS
             WHERE table_name = 't_long'" t \
	"mid-run: rows_done equals the rows committed (the in-flight batch was recorded)"
assert_sql "SELECT state FROM $NB_JOBS WHERE table_name = 't_long'" stopped "mid-run: state stopped"
wait_for 5 "the daemon's connections to close" no_other_backends
pass "mid-run: no connection left open"

# 3. A run that joins a pass another run has just begun (the job running,
# nothing carved yet: the other run holds the carve lock between starting
# the pass and carving its first lease, and the claim does not take it)
# goes on with the pass. Marked idle, the pass would end after its first
# lease: the next look at the job would only probe past the high-water
# mark, and the rows below it would wait for the next whole-table sweep.
# The job is set as the other run leaves it; that run is gone here.
psqlc "UPDATE t SET public_id = NULL WHERE id % 100 = 0" >/dev/null
RESET=$(psqlc "SELECT count(*) FROM t WHERE public_id IS NULL")
assert_eq "$(psqlc "UPDATE $NB_PROGRESS_SCHEMA.jobs SET state = 'running', idle_since = NULL,
        frontier = NULL, frontier_rel = NULL, frontier_done = false, walk = 'key',
        hwm = $((N + 450)), hwm_next = $((N + 450)), swept_at = now()
        WHERE job = 'public.t.public_id' RETURNING job")" "public.t.public_id" \
	"joined pass: the job set as a pass just begun"
assert_sql "SELECT count(*) FROM $NB_LEASES WHERE job = 'public.t.public_id'" 0 "joined pass: no lease carved yet"
bg_bf --table t --column public_id --order key --idle-interval 3600 \
	--full-sweep-interval 1h --log-level debug
wait_for 20 "the pass begun by the other run to fill the rows set back to NULL" \
	sql_true "SELECT count(*) = 0 FROM t WHERE public_id IS NULL"
pass "joined pass: the $RESET rows below the high-water mark filled by the pass"
assert_sql "SELECT count(DISTINCT public_id) = count(*) FROM t" t "joined pass: no id given twice"
assert_file_nomatch "$ERR" 'probe: nothing to fill' "joined pass: no probe in place of the pass"
kill_bf TERM "$BF_PID"
assert_eq "$RC" 0 "joined pass: SIGTERM -> exit 0"

finish
