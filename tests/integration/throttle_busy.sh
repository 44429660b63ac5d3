#!/usr/bin/env bash
# throttle_busy: the default pace on a busy server (busy-max-rate).
#   1. an idle server is not paced: 40,000 rows well under the 40 s the
#      busy rate would take, and no "busy" reason;
#   2. another session at work (an application's long statement) paces the
#      backfill at busy-max-rate, and the progress line says why;
#   3. once that session is gone (busy-hold later) the backfill goes full
#      speed and finishes what the busy rate would need minutes for;
#   4. two nanoid-backfill processes sharing a job do not count as each
#      other's application.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

# lib.sh turns busy pacing off for the rest of the suite; here it is the
# subject: at 1000 rows/s (the default is 500) unless a case says otherwise.
BF_BUSY_MAX_RATE=1000
BUSY_RE="${NB_THROTTLED_RE}busy-max-rate [0-9]+ rows/s \\(other sessions active\\)"
pg_start

psqlf <<SQL
CREATE TABLE t1 (id bigint PRIMARY KEY, public_id text);
INSERT INTO t1 SELECT i, NULL FROM generate_series(1, 40000) i;
CREATE TABLE t2 (id bigint PRIMARY KEY, public_id text);
INSERT INTO t2 SELECT i, NULL FROM generate_series(1, 6000) i;
CREATE TABLE t3 (id bigint PRIMARY KEY, public_id text);
INSERT INTO t3 SELECT i, NULL FROM generate_series(1, 200000) i;
CREATE TABLE t4 (id bigint PRIMARY KEY, public_id text);
INSERT INTO t4 SELECT i, NULL FROM generate_series(1, 100000) i;
ANALYZE;
SQL

# app_start: an application session running a long statement (state
# 'active', application_name nb_app) until app_stop.
APP_PID=
app_start() {
	PGAPPNAME=nb_app psql -X -q -c "SELECT pg_sleep(300)" >/dev/null 2>&1 &
	APP_PID=$!
	BG_PIDS+=("$APP_PID")
	wait_for 10 "the application session" sql_true \
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'nb_app' AND state = 'active'"
}
app_stop() {
	psqlc "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'nb_app'" >/dev/null
	wait "$APP_PID" 2>/dev/null || true
	_forget_pid "$APP_PID"
	wait_for 10 "the application session gone" sql_true \
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'nb_app'"
}

# 1. Idle server: full speed.
wait_for 10 "no other session" no_other_backends
start=$(now_s)
run_bf --table t1 --column public_id --until-done --progress-interval 1
took=$(elapsed_s "$start")
assert_eq "$RC" 0 "idle: exit 0"
assert_sql "SELECT count(*) FROM t1 WHERE public_id IS NULL" 0 "idle: no NULL left"
float_between "$took" 0 20 ||
	fail "idle: 40000 rows took $took s: paced as if busy (1000 rows/s: 40 s)"
pass "idle: 40000 rows in $took s, not paced"
assert_file_nomatch "$ERR" "busy-max-rate" "idle: no busy reason"

# 2. Another session at work: paced at busy-max-rate.
app_start
start=$(now_s)
run_bf --table t2 --column public_id --until-done --progress-interval 1 \
	--busy-max-rate 1500
took=$(elapsed_s "$start")
assert_eq "$RC" 0 "busy: exit 0"
assert_sql "SELECT count(*) FROM t2 WHERE public_id IS NULL" 0 "busy: no NULL left"
float_between "$took" 3 8 ||
	fail "busy: 6000 rows at busy-max-rate 1500 took $took s, want about 4 s"
pass "busy: 6000 rows in $took s at busy-max-rate 1500"
assert_file_match "$ERR" "$BUSY_RE" "busy: the progress line says why"

# 3. The session ends: full speed again after busy-hold.
bg_bf --table t3 --column public_id --until-done --progress-interval 1 \
	--busy-hold 2s
sleep 4
done_busy=$(view_rows_done t3)
((done_busy <= 6000)) ||
	fail "busy: $done_busy rows after 4 s at busy-max-rate 1000"
pass "busy: $done_busy rows in the first 4 s (busy-max-rate 1000)"
app_stop
wait_exit "$BF_PID" 60
assert_eq "$RC" 0 "no longer busy: the other 196,000 rows done within 60 s (busy rate: 196 s)"
assert_sql "SELECT count(*) FROM t3 WHERE public_id IS NULL" 0 "no longer busy: no NULL left"

# 4. Two processes on one job are not each other's application.
wait_for 10 "no other session" no_other_backends
start=$(now_s)
bg_bf --table t4 --column public_id --until-done --job shared --workers 2
first=$BF_PID
bg_bf --table t4 --column public_id --until-done --job shared --workers 2
second=$BF_PID
wait_exit "$first" 60
rc1=$RC
wait_exit "$second" 60
took=$(elapsed_s "$start")
assert_eq "$rc1 $RC" "0 0" "two processes: both exit 0"
assert_sql "SELECT count(*) FROM t4 WHERE public_id IS NULL" 0 "two processes: no NULL left"
float_between "$took" 0 30 ||
	fail "two processes: 100000 rows took $took s: they paced each other (busy rate: 100 s)"
pass "two processes: 100000 rows in $took s, not paced by each other"

finish
