#!/usr/bin/env bash
# kill_resume: kill -9 the daemon three times at different moments (right
# after its first batch committed, once a lease met a row the application holds
# locked, and shortly after a resume), then let it finish. Every row must be written
# exactly once (an audit trigger logs every change of the column), and the
# progress row must always agree with the committed data.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

N=200000
BATCH=500
LOCKED_ID=100000   # the row held locked for the second kill
pg_start

psqlf <<SQL
CREATE TABLE t (id bigint PRIMARY KEY, public_id text);
INSERT INTO t SELECT i, NULL FROM generate_series(1, $N) i;
ANALYZE t;
CREATE TABLE audit (id bigint NOT NULL);
CREATE FUNCTION audit_change() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
  IF OLD.public_id IS DISTINCT FROM NEW.public_id THEN
    INSERT INTO audit VALUES (NEW.id);
  END IF;
  RETURN NULL;
END \$\$;
CREATE TRIGGER audit_change AFTER UPDATE ON t
  FOR EACH ROW EXECUTE FUNCTION audit_change();
SQL

ARGS=(--table t --column public_id --batch-size "$BATCH" --progress-interval 1)

rows_done() {
	psqlc "SELECT coalesce((SELECT rows_done FROM $NB_JOBS WHERE table_name = 't'), 0)" 2>/dev/null ||
		echo 0
}

# After each kill: the progress row and the data agree, some rows are filled
# but not all, and nothing was written twice.
check_after_kill() {
	local what=$1 filled
	# The killed daemon's server backends finish (or roll back) on their own.
	wait_for 20 "$what: the killed daemon's connections to close" no_other_backends
	filled=$(psqlc "SELECT count(public_id) FROM t")
	((filled > 0 && filled < N)) || fail "$what: want some but not all rows filled, got $filled"
	pass "$what: $filled of $N rows filled"
	assert_sql "SELECT rows_done = (SELECT count(public_id) FROM t) FROM $NB_JOBS WHERE table_name = 't'" t \
		"$what: rows_done equals the committed rows"
	assert_sql "SELECT count(*) FROM (SELECT id FROM audit GROUP BY id HAVING count(*) > 1) d" 0 \
		"$what: no row written twice"
}

# 1. Kill right after the first batch committed.
bg_bf "${ARGS[@]}"
wait_for 30 "the first batch to commit" \
	sql_true "SELECT rows_done > 0 FROM $NB_JOBS WHERE table_name = 't'"
kill_bf KILL "$BF_PID"
assert_file_nomatch "$ERR" "$NB_RESUME_RE" "kill 1: a fresh job does not say it resumes"
check_after_kill "kill 1"

# 2. Kill while a lease has met a row the "application" holds locked.
psqlc "BEGIN; SELECT id FROM t WHERE id = $LOCKED_ID FOR UPDATE; SELECT pg_sleep(60); COMMIT" \
	>/dev/null 2>&1 &
HOLDER_PID=$!
BG_PIDS+=("$HOLDER_PID")
wait_for 10 "the row lock to be held" \
	sql_true "SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%'
	             AND state = 'active' AND pid <> pg_backend_pid()"
# A batch waits for a locked row 50 ms at most, then its lease steps
# around it and comes back for it (its line says so): killed then, with
# about half of the table still NULL (slowly: the line is not missed).
bg_bf "${ARGS[@]}" --max-rate 20000
wait_for 50 "a daemon batch to meet the locked row" \
	grep -qs 'a row is locked by another session' "$ERR"
kill_bf KILL "$BF_PID"
assert_file_match "$ERR" "$NB_RESUME_RE" "kill 2: restart says it is resuming"
psqlc "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()" >/dev/null
wait_exit "$HOLDER_PID" 10
check_after_kill "kill 2"

# 3. Kill shortly after a resume made progress (slowly: not at the end).
before=$(rows_done)
bg_bf "${ARGS[@]}" --max-rate 20000
wait_for 30 "progress after the second resume" \
	sql_true "SELECT rows_done > $before FROM $NB_JOBS WHERE table_name = 't'"
kill_bf KILL "$BF_PID"
assert_file_match "$ERR" "$NB_RESUME_RE" "kill 3: restart says it is resuming"
check_after_kill "kill 3"

# Finish.
run_bf "${ARGS[@]}" --until-done
assert_eq "$RC" 0 "final run: exit 0"
assert_file_match "$ERR" "$NB_RESUME_RE" "final run: says it is resuming"
assert_sql "SELECT count(*) FROM t WHERE public_id IS NULL" 0 "no NULL left"
assert_sql "SELECT count(*) FROM t WHERE public_id !~ '$NB_DEFAULT_ID_RE'" 0 "every value a default nanoid"
assert_sql "SELECT count(*) FROM (SELECT id FROM audit GROUP BY id HAVING count(*) > 1) d" 0 \
	"no row written twice"
assert_sql "SELECT count(DISTINCT id) FROM audit" "$N" "every row written once"
assert_sql "SELECT count(*) - count(DISTINCT public_id) FROM t" 0 "no duplicate values"
assert_sql "SELECT rows_done FROM $NB_JOBS WHERE table_name = 't'" "$N" "rows_done = $N"
assert_sql "SELECT state FROM $NB_JOBS WHERE table_name = 't'" 'done' "state done"

finish
