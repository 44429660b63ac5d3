#!/usr/bin/env bash
# throttle_pace: the default pace follows measured harm, not presence.
#   0. a server where nobody else is connected: the first probe says so
#      and the pace is free at once (no quiet window, no slow start);
#   1. an idle server with a monitoring poller (a psql query every second)
#      is not load: the paced run of 200,000 rows takes at most 1.5x the
#      unpaced one (plus a second), and no harm is named;
#   2. an application at work (pgbench, 8 clients, as fast as they can):
#      the pace engages, the progress line names it, and the backfill
#      still finishes, every row filled;
#   3. two nanoid-backfill processes sharing a job are not each other's
#      application: neither says another session started working.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

# lib.sh turns the pace off for the rest of the suite; here it is the
# subject, with its defaults.
BF_MAX_LATENCY_INCREASE=1.5
HARM_RE='pace [0-9]+ rows/s: (probe |[0-9]+ sessions? wait|other sessions started)'
need_pgbench
pg_start

psqlf <<SQL
CREATE TABLE t1 (id bigint PRIMARY KEY, public_id text);
INSERT INTO t1 SELECT i, NULL FROM generate_series(1, 200000) i;
CREATE TABLE t1_copy AS SELECT * FROM t1;
ALTER TABLE t1_copy ADD PRIMARY KEY (id);
CREATE TABLE t2 (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0, public_id text);
INSERT INTO t2 SELECT i, 0, NULL FROM generate_series(1, 200000) i;
CREATE TABLE t4 (id bigint PRIMARY KEY, public_id text);
INSERT INTO t4 SELECT i, NULL FROM generate_series(1, 100000) i;
CREATE TABLE t0 (id bigint PRIMARY KEY, public_id text);
INSERT INTO t0 SELECT i, NULL FROM generate_series(1, 100000) i;
ANALYZE;
SQL

# 0. Nobody else connected.
wait_for 10 "no other session" no_other_backends
run_bf --table t0 --column public_id --until-done --log-level debug
assert_eq "$RC" 0 "nobody connected: exit 0"
assert_sql "SELECT count(*) FROM t0 WHERE public_id IS NULL" 0 "nobody connected: no NULL left"
first_probe=$(grep -m 1 'debug: probe: ' "$ERR" || true)
[[ -n $first_probe ]] || fail "nobody connected: no probe in the debug log"
assert_match "$first_probe" ', 0 connected, 0 active' "nobody connected: the first probe sees nobody"
assert_file_nomatch "$ERR" 'debug: probe: [0-9.]+ ms \(quiet\)' "nobody connected: no quiet window"
# The first probe goes out once the health connection is free, not at the
# probe timer's first tick (0.1 s: about four slow-start batches of 25 ms).
before=$(sed -n '/debug: probe: /q;p' "$ERR" | grep -c 'rows found' || true)
((before <= 2)) && pass "nobody connected: $before batches before the first probe" \
	|| fail "nobody connected: $before batches at the slow start's rate before the first probe"

# 1. A poller on an idle server.
wait_for 10 "no other session" no_other_backends
(while :; do psql -X -qAt -c "SELECT count(*) FROM pg_stat_activity" >/dev/null 2>&1; sleep 1; done) &
POLLER=$!
BG_PIDS+=("$POLLER")
start=$(now_s)
run_bf --table t1_copy --column public_id --until-done --max-latency-increase 0
unpaced=$(elapsed_s "$start")
assert_eq "$RC" 0 "poller, unpaced: exit 0"
start=$(now_s)
run_bf --table t1 --column public_id --until-done --progress-interval 1
paced=$(elapsed_s "$start")
assert_eq "$RC" 0 "poller, paced: exit 0"
assert_sql "SELECT count(*) FROM t1 WHERE public_id IS NULL" 0 "poller: no NULL left"
assert_file_nomatch "$ERR" "$HARM_RE" "poller: no harm named"
float_between "$paced" 0 "$(echo "1.5 * $unpaced + 1" | bc)" ||
	fail "poller: paced $paced s against $unpaced s unpaced"
pass "poller: paced $paced s, unpaced $unpaced s"
kill "$POLLER" 2>/dev/null || true
wait "$POLLER" 2>/dev/null || true
_forget_pid "$POLLER"

# 2. An application at work.
cat >"$WORK/app.sql" <<'SQL'
\set id random(1, 200000)
UPDATE t2 SET n = n + 1 WHERE id = :id;
SQL
"$PGBENCH" -n -c 8 -T 8 -f "$WORK/app.sql" >"$WORK/app.out" 2>&1 &
APP=$!
BG_PIDS+=("$APP")
sleep 1
run_bf --table t2 --column public_id --until-done --progress-interval 1 --log-level debug
assert_eq "$RC" 0 "application: exit 0"
assert_sql "SELECT count(*) FROM t2 WHERE public_id IS NULL" 0 "application: no NULL left"
assert_sql "SELECT count(DISTINCT public_id) FROM t2" 200000 "application: 200000 distinct ids"
assert_file_match "$ERR" "${NB_THROTTLED_RE}pace" "application: the progress line names the pace"
wait "$APP" || fail "application: pgbench failed: $(tail -n 3 "$WORK/app.out")"
_forget_pid "$APP"

# 3. Two processes on one job are not each other's application.
wait_for 10 "no other session" no_other_backends
bg_bf --table t4 --column public_id --until-done --job shared --workers 2 --progress-interval 1
first=$BF_PID
first_err=$ERR
bg_bf --table t4 --column public_id --until-done --job shared --workers 2 --progress-interval 1
second=$BF_PID
wait_exit "$first" 60
rc1=$RC
wait_exit "$second" 60
assert_eq "$rc1 $RC" "0 0" "two processes: both exit 0"
assert_sql "SELECT count(*) FROM t4 WHERE public_id IS NULL" 0 "two processes: no NULL left"
assert_file_nomatch "$first_err" "other sessions started" "two processes: the first was not paced by the second"
assert_file_nomatch "$ERR" "other sessions started" "two processes: the second was not paced by the first"

finish
