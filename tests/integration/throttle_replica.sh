#!/usr/bin/env bash
# throttle_replica: a streaming standby (pg_basebackup -R) whose replay is
# paused with pg_wal_replay_pause() falls behind as the backfill writes; with
# --max-replica-lag-bytes 1MB the backfill pauses ("throttled: replica lag"),
# rows_done stops growing while replay stays paused, and once replay resumes
# the backfill resumes and completes (exit 0); the standby catches up.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

N=300000
PGTMP_CONF=$PG_REPLICATION_CONF pg_start

psqlf <<SQL
CREATE TABLE t (id bigint PRIMARY KEY, payload text, public_id text);
INSERT INTO t SELECT i, 'payload-' || md5(i::text), NULL FROM generate_series(1, $N) i;
ANALYZE t;
CHECKPOINT;
SQL

pg_standby
standby() {
	PGHOST=$SBDIR psqlc "$1"
}
# shellcheck disable=SC2317  # called through wait_for
standby_true() {
	[[ $(standby "$1" 2>/dev/null) == t ]]
}
wait_for 60 "the standby to stream" \
	sql_true "SELECT count(*) = 1 FROM pg_stat_replication WHERE state = 'streaming'"
wait_for 60 "the standby to replay the table" \
	standby_true "SELECT count(*) = $N FROM t"
pass "standby streams and has replayed the $N-row table"

standby "SELECT pg_wal_replay_pause()" >/dev/null
wait_for 20 "replay to be paused" \
	standby_true "SELECT pg_get_wal_replay_pause_state() = 'paused'"
pass "standby replay paused"

lag_bytes() {
	psqlc "SELECT coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), 0)::bigint
	         FROM pg_stat_replication"
}

bg_bf --table t --column public_id --until-done --batch-size 1000 \
	--max-replica-lag-bytes 1MB --health-interval 0.2 --progress-interval 1
wait_for 60 "the daemon to report 'throttled: replica lag'" \
	grep -Eqs "${NB_THROTTLED_RE}replica lag" "$ERR"
pass "stderr says: $(grep -Em1 "${NB_THROTTLED_RE}replica lag" "$ERR")"
lag=$(lag_bytes)
((lag > 1048576)) || fail "the standby's lag should exceed 1MB while paused, is $lag bytes"
pass "replay lag on the primary is $lag bytes (> 1MB)"

# The batch in flight when the pause began may still commit: sample after it.
sleep 1.5
before=$(view_rows_done t)
sleep 4
after=$(view_rows_done t)
assert_eq "$after" "$before" "rows_done does not grow while replay is paused (4 s)"
((before > 0 && before < N)) || fail "want some rows filled before the pause, got $before"
pass "$before of $N rows filled before the pause"
pid_alive "$BF_PID" || fail "the daemon exited while paused"
pass "the daemon waits (still running)"

standby "SELECT pg_wal_replay_resume()" >/dev/null
wait_exit "$BF_PID" 120
assert_eq "$RC" 0 "after pg_wal_replay_resume() the backfill completes: exit 0"
assert_sql "SELECT count(*) FROM t WHERE public_id IS NULL" 0 "no NULL left"
assert_sql "SELECT rows_done FROM $NB_PROGRESS_VIEW WHERE table_name = 't'" "$N" \
	"job_progress.rows_done = $N"
assert_sql "SELECT state FROM $NB_JOBS WHERE table_name = 't'" 'done' "state done"
wait_for 60 "the standby to catch up" \
	standby_true "SELECT count(*) = 0 FROM t WHERE public_id IS NULL"
pass "the standby has replayed every filled row"

finish
