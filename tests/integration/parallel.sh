#!/usr/bin/env bash
# parallel: several workers, and several processes, share one job through
# the key-range leases in the progress tables (--order key: under
# --until-done auto walks these tables in physical order). Every row must be written
# exactly once (an audit trigger logs every change of the column), whatever
# dies on the way:
#   1. one process, 4 workers;
#   2. two processes started together on the same job;
#   3. a process killed (-9) mid-lease while another runs the same job: the
#      survivor finishes the dead one's range;
#   4. one worker's backend terminated by the server: it reconnects;
#   5. a text key (leases carved by index scan, not key arithmetic), 3 workers,
#      killed and resumed;
#   6. batches of 20,000 rows are still planned as key and ctid lookups, not
#      as a hash join over a sequential scan of the table;
#   7. --batch-time adapts the batch size within its bounds.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

N=200000
pg_start

# make_table NAME KEYTYPE KEYEXPR: N rows, NULL public_id, audit trigger.
make_table() {
	psqlf <<SQL
DROP TABLE IF EXISTS $1, audit_$1;
CREATE TABLE $1 (id $2 PRIMARY KEY, public_id text);
INSERT INTO $1 SELECT $3, NULL FROM generate_series(1, $N) i;
ANALYZE $1;
CREATE TABLE audit_$1 (id $2 NOT NULL);
CREATE FUNCTION audit_$1() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
  IF OLD.public_id IS DISTINCT FROM NEW.public_id THEN
    INSERT INTO audit_$1 VALUES (NEW.id);
  END IF;
  RETURN NULL;
END \$\$;
CREATE TRIGGER audit_$1 AFTER UPDATE ON $1 FOR EACH ROW EXECUTE FUNCTION audit_$1();
SQL
}

# exactly_once WHAT TABLE: the end state after a run that must be complete.
exactly_once() {
	local what=$1 t=$2
	assert_sql "SELECT count(*) FROM $t WHERE public_id IS NULL" 0 "$what: no NULL left"
	assert_sql "SELECT count(*) FROM (SELECT id FROM audit_$t GROUP BY id HAVING count(*) > 1) d" 0 \
		"$what: no row written twice"
	assert_sql "SELECT count(DISTINCT id) FROM audit_$t" "$N" "$what: every row written"
	assert_sql "SELECT count(DISTINCT public_id) FROM $t" "$N" "$what: no duplicate id"
	assert_sql "SELECT rows_done FROM $NB_PROGRESS_VIEW WHERE table_name = '$t'" "$N" \
		"$what: rows_done = $N"
}

# rows filled by one run, from its "done:" or "stopped:" line
run_rows() {
	sed -nE 's/.*(done|stopped):.* ([0-9]+) rows filled by this run.*/\2/p' "$1" | tail -n 1
}

# 1. One process, four workers.
make_table t1 bigint i
run_bf --table t1 --column public_id --until-done --workers 4 --batch-size 500 \
	--lease-size 5000 --progress-interval 1 --order key
assert_eq "$RC" 0 "4 workers: exit 0"
assert_file_match "$ERR" 'with 4 workers' "4 workers: the start line says so"
exactly_once "4 workers" t1
assert_sql "SELECT count(*) FROM $NB_LEASES" 0 "4 workers: leases folded at the end of the pass"

# 2. Two processes on one job, started together.
make_table t2 bigint i
ARGS2=(--table t2 --column public_id --until-done --workers 2 --batch-size 300
	--lease-size 4000 --progress-interval 1 --order key)
bg_bf "${ARGS2[@]}"
P1=$BF_PID ERR1=$ERR
bg_bf "${ARGS2[@]}"
P2=$BF_PID ERR2=$ERR
WATCH_PID=
wait_exit "$P1" 120
assert_eq "$RC" 0 "two processes: the first exits 0"
wait_exit "$P2" 120
assert_eq "$RC" 0 "two processes: the second exits 0"
r1=$(run_rows "$ERR1")
r2=$(run_rows "$ERR2")
echo "# process 1 filled ${r1:-?} rows, process 2 ${r2:-?}"
((${r1:-0} > 0 && ${r2:-0} > 0)) || fail "two processes: both should have filled rows (got ${r1:-?} and ${r2:-?})"
pass "two processes: both filled rows"
assert_eq "$((r1 + r2))" "$N" "two processes: their counts add up to $N"
exactly_once "two processes" t2

# 3. A process killed mid-lease; another one on the same job finishes its range.
make_table t3 bigint i
ARGS3=(--table t3 --column public_id --until-done --batch-size 200 --lease-size 20000
	--progress-interval 1 --order key)
bg_bf "${ARGS3[@]}"
VICTIM=$BF_PID
wait_for 30 "the first process to fill some rows" \
	sql_true "SELECT rows_done > 2000 FROM $NB_PROGRESS_VIEW WHERE table_name = 't3'"
kill_bf KILL "$VICTIM"
held=$(psqlc "SELECT count(*) FROM $NB_LEASES WHERE state = 'open' AND cursor IS NOT NULL")
((held >= 1)) || fail "kill mid-lease: want an open, started lease left behind (got $held)"
pass "kill mid-lease: the killed process left $held started lease(s) open"
run_bf "${ARGS3[@]}" --workers 2
assert_eq "$RC" 0 "kill mid-lease: the survivor exits 0"
assert_file_match "$ERR" 'resuming lease [0-9]+ after key' "kill mid-lease: the dead range is taken over"
exactly_once "kill mid-lease" t3

# 4. A worker's backend is terminated: it reconnects and the job completes.
make_table t4 bigint i
bg_bf --table t4 --column public_id --until-done --workers 2 --batch-size 200 \
	--lease-size 10000 --progress-interval 1 --order key
wait_for 30 "both workers to run batches" \
	sql_true "SELECT count(*) = 2 FROM pg_stat_activity WHERE application_name = 'nanoid-backfill'
	           AND query LIKE 'WITH cand%'"
psqlc "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE application_name = 'nanoid-backfill' AND query LIKE 'WITH cand%' LIMIT 1" >/dev/null
wait_exit "$BF_PID" 120
assert_eq "$RC" 0 "terminated backend: exit 0"
assert_file_match "$ERR" 'connection lost' "terminated backend: the loss is logged"
assert_file_match "$ERR" 'reconnected' "terminated backend: the worker reconnects"
exactly_once "terminated backend" t4

# 5. A text key: leases carved by an index scan. Killed, then resumed.
make_table t5 text "md5(i::text)"
ARGS5=(--table t5 --column public_id --until-done --workers 3 --batch-size 250
	--lease-size 7000 --progress-interval 1 --order key)
bg_bf "${ARGS5[@]}"
wait_for 30 "the text-key run to fill some rows" \
	sql_true "SELECT rows_done > 5000 FROM $NB_PROGRESS_VIEW WHERE table_name = 't5'"
kill_bf KILL "$BF_PID"
run_bf "${ARGS5[@]}"
assert_eq "$RC" 0 "text key: the resumed run exits 0"
assert_file_match "$ERR" "$NB_RESUME_RE" "text key: the restart says it resumes"
exactly_once "text key" t5
assert_sql "SELECT count(*) FROM (SELECT lease FROM $NB_LEASES) l" 0 "text key: no lease left over"

# 6. Big batches still look rows up by key and ctid: the table is scanned
# sequentially only by the final "any NULL left?" check, not once a batch.
make_table t6 bigint i
psqlc "SELECT pg_stat_reset()" >/dev/null
run_bf --table t6 --column public_id --until-done --workers 2 --batch-size 20000 \
	--lease-size 100000 --progress-interval 1 --order key
assert_eq "$RC" 0 "big batches: exit 0"
sleep 0.6 # backends flush their statistics at most every 500 ms
# Before any check of ours, which would scan the table itself.
seq=$(psqlc "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 't6'")
((seq <= 1)) || fail "big batches: want at most 1 sequential scan of the table, got $seq"
pass "big batches: $seq sequential scan(s) of the table, not one per batch"
exactly_once "big batches" t6

# 7. --batch-time: batches of 100 rows take far less than 200 ms, so the size
# grows (at most doubling per batch) and stops at --max-batch-size.
make_table t7 bigint i
run_bf --table t7 --column public_id --until-done --batch-size 100 --batch-time 200 \
	--min-batch-size 50 --max-batch-size 3000 --log-level debug --progress-interval 1
assert_eq "$RC" 0 "batch-time: exit 0"
assert_file_match "$ERR" 'batch size 100 -> 200 ' "batch-time: the size grows from 100, doubling"
biggest=$(sed -nE 's/.*batch size [0-9]+ -> ([0-9]+) .*/\1/p' "$ERR" | sort -n | tail -n 1)
assert_eq "$biggest" 3000 "batch-time: the size stops at --max-batch-size"
exactly_once "batch-time" t7

finish
