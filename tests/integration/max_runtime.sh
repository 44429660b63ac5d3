#!/usr/bin/env bash
# max_runtime: --max-runtime 2s on a table that needs much longer stops
# cleanly within about 3 s: exit 0, state 'stopped', some rows filled and
# recorded; a restart without the limit resumes and completes.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

N=200000
pg_start

psqlf <<SQL
CREATE TABLE t (id bigint PRIMARY KEY, public_id text);
INSERT INTO t SELECT i, NULL FROM generate_series(1, $N) i;
ANALYZE t;
SQL

# Small batches, and a rate that makes the whole run take 10 s at least.
start=$(now_s)
run_bf --table t --column public_id --until-done --batch-size 100 \
	--max-rate 20000 --max-runtime 2s --progress-interval 1
took=$(elapsed_s "$start")
assert_eq "$RC" 0 "max-runtime 2s: exit 0"
float_between "$took" 1.9 3.5 || fail "max-runtime 2s: exited after $took s, want about 2-3 s"
pass "max-runtime 2s: exited after $took s"
assert_file_match "$ERR" 'max-runtime' "stderr names max-runtime"
assert_sql "SELECT state FROM $NB_JOBS WHERE table_name = 't'" stopped "state stopped"
filled=$(psqlc "SELECT count(public_id) FROM t")
((filled > 0 && filled < N)) || fail "want some but not all rows filled, got $filled"
pass "$filled of $N rows filled"
assert_eq "$(view_rows_done t)" "$filled" "job_progress.rows_done equals the rows filled"
wait_for 5 "the daemon's connections to close" no_other_backends
pass "no connection left open"

run_bf --table t --column public_id --until-done --batch-size 1000 --progress-interval 1
assert_eq "$RC" 0 "restart: exit 0"
assert_file_match "$ERR" "$NB_RESUME_RE" "restart: says it is resuming"
assert_sql "SELECT count(*) FROM t WHERE public_id IS NULL" 0 "restart: no NULL left"
assert_sql "SELECT rows_done FROM $NB_PROGRESS_VIEW WHERE table_name = 't'" "$N" \
	"restart: job_progress.rows_done = $N"
assert_sql "SELECT state FROM $NB_JOBS WHERE table_name = 't'" 'done' "restart: state done"

finish
