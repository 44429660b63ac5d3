#!/usr/bin/env bash
# max_rate: --max-rate 20000 fills 100,000 rows in 5 s (within 10%), and
# SIGUSR1 pauses a running backfill ("throttled: paused"), SIGUSR2 resumes it.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

N=100000
pg_start

psqlf <<SQL
CREATE TABLE t (id bigint PRIMARY KEY, public_id text);
INSERT INTO t SELECT i, NULL FROM generate_series(1, $N) i;
CREATE TABLE t2 (id bigint PRIMARY KEY, public_id text);
INSERT INTO t2 SELECT i, NULL FROM generate_series(1, $N) i;
ANALYZE;
SQL

# 1. The rate. The elapsed time includes connecting and the final check.
start=$(now_s)
run_bf --table t --column public_id --until-done --batch-size 1000 \
	--max-rate 20000 --progress-interval 1
took=$(elapsed_s "$start")
assert_eq "$RC" 0 "max-rate 20000: exit 0"
assert_sql "SELECT count(*) FROM t WHERE public_id IS NULL" 0 "max-rate 20000: no NULL left"
float_between "$took" 4.5 5.5 ||
	fail "max-rate 20000: $N rows took $took s, want 5 s within 10%"
pass "max-rate 20000: $N rows in $took s ($(awk -v s="$took" -v n=$N 'BEGIN { printf "%.0f", n / s }') rows/s)"
assert_file_match "$ERR" "${NB_THROTTLED_RE}max-rate" "progress line says 'throttled: max-rate'"

# 2. SIGUSR1 pauses, SIGUSR2 resumes.
bg_bf --table t2 --column public_id --until-done --batch-size 500 \
	--max-rate 10000 --progress-interval 1
wait_for 20 "the first rows of t2" sql_true "SELECT count(public_id) > 10000 FROM t2"
kill -USR1 "$BF_PID"
wait_for 10 "'throttled: paused' on stderr" grep -Eqs "${NB_THROTTLED_RE}paused" "$ERR"
pass "SIGUSR1: $(grep -Em1 "${NB_THROTTLED_RE}paused" "$ERR")"
sleep 1.5
before=$(view_rows_done t2)
sleep 3
after=$(view_rows_done t2)
assert_eq "$after" "$before" "SIGUSR1: rows_done does not grow (3 s)"
((before < N)) || fail "SIGUSR1: the run finished before the pause ($before rows)"
pid_alive "$BF_PID" || fail "SIGUSR1 ended the daemon"
pass "SIGUSR1: paused at $before of $N rows, still running"
kill -USR2 "$BF_PID"
wait_exit "$BF_PID" 60
assert_eq "$RC" 0 "SIGUSR2: resumed and completed, exit 0"
assert_sql "SELECT count(*) FROM t2 WHERE public_id IS NULL" 0 "SIGUSR2: no NULL left"

finish
