#!/usr/bin/env bash
# systemd_notify: the daemon under a fake systemd. A listener
# (tests/integration/notify_listen, path in $NB_NOTIFY_LISTEN) plays the
# manager's notification socket; the daemon runs in service mode with
# NOTIFY_SOCKET and WATCHDOG_USEC set, as Type=notify + WatchdogSec= would
# run it, and must send READY=1, STATUS= with progress, WATCHDOG=1 pings,
# RELOADING=1 + MONOTONIC_USEC then READY=1 around each SIGHUP, and
# STOPPING=1 on SIGTERM. SIGHUP re-reads the job file: a changed live key
# is applied and logged, a changed restart-only key is logged with old and
# new value and kept, an invalid file is refused with a warning and the
# daemon keeps running on its old configuration. Along the way, the
# --metrics-file it writes is checked against the exposition format.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

LISTEN=${NB_NOTIFY_LISTEN:-$(dirname "$NB")/tests/integration/notify_listen}
[[ -x $LISTEN ]] || fail "no notify_listen binary (NB_NOTIFY_LISTEN=$LISTEN)"

N=200000
pg_start
psqlf <<SQL
CREATE TABLE t (id bigint PRIMARY KEY, public_id text);
INSERT INTO t SELECT i, NULL FROM generate_series(1, $N) i;
ANALYZE t;
SQL

SOCK=$WORK/notify.sock
LOG=$WORK/notify.log
: >"$LOG"
"$LISTEN" "$SOCK" "$LOG" 300 &
BG_PIDS+=($!)
wait_for 10 "the listener's socket" test -S "$SOCK"

JOB=$WORK/job.conf
cat >"$JOB" <<EOF
table = t
column = public_id
batch-size = 1000
EOF

# Lines of the notification log from line $1 on (1-based).
since() { tail -n "+$1" "$LOG"; }
nlines() { wc -l <"$LOG"; }
count() { grep -c -- "$1" "$LOG" || true; }
# has_after START ERE: a line from START on matches ERE.
has_after() { since "$1" | grep -Eq -- "$2"; }
# ready_after_reload START: a RELOADING=1 line from START on, and a
# READY=1 line after it.
ready_after_reload() {
	since "$1" | awk '/^RELOADING=1\|MONOTONIC_USEC=[0-9]+$/ { r = 1; next }
	                  r && /^READY=1$/ { ok = 1 } END { exit !ok }'
}
# The MONOTONIC_USEC of the last RELOADING line.
last_monotonic() {
	grep -E '^RELOADING=1' "$LOG" | tail -n 1 | sed -E 's/.*MONOTONIC_USEC=([0-9]+).*/\1/'
}
# err_after START ERE: a stderr line from START on matches ERE.
err_after() { tail -n "+$1" "$ERR" | grep -Eiq -- "$2"; }
err_lines() { wc -l <"$ERR"; }

# --- start: READY, STATUS with progress, WATCHDOG -------------------------------
export NOTIFY_SOCKET=$SOCK WATCHDOG_USEC=500000
unset WATCHDOG_PID
PROM=$WORK/metrics/job.prom
mkdir -p "$WORK/metrics"
bg_bf --config "$JOB" --idle-interval 1 --progress-interval 1 --metrics-file "$PROM"
unset NOTIFY_SOCKET WATCHDOG_USEC

wait_for 30 "READY=1" grep -qx 'READY=1' "$LOG"
pass "READY=1 once connected and the target checked"
wait_for 30 "a STATUS= line with progress (rows/s or %)" \
	grep -Eq '^STATUS=.*([0-9]+(\.[0-9]+)? ?rows/s|[0-9]+(\.[0-9]+)?%)' "$LOG"
pass "STATUS= reports progress: $(grep -E '^STATUS=.*(rows/s|%)' "$LOG" | tail -n 1)"
# WatchdogSec=0.5 s: a ping every 0.25 s, so a dozen in 3 s; ask for 4.
wait_for 10 "at least 4 WATCHDOG=1 pings" \
	bash -c "(( \$(grep -cx 'WATCHDOG=1' '$LOG') >= 4 ))"
pass "WATCHDOG=1 sent repeatedly ($(count '^WATCHDOG=1$') so far)"
assert_eq "$(grep -c -v -E '^(READY=1|STOPPING=1|WATCHDOG=1|STATUS=.*|RELOADING=1\|MONOTONIC_USEC=[0-9]+)$' "$LOG" || true)" 0 \
	"every datagram is a known assignment"

# --- the metrics file, written as the progress line is ---------------------------
# Sample lines per the exposition format: name{label="value",...} number.
SAMPLE_RE='^nanoid_backfill_[a-z_]+(\{[a-z_]+="([^"\\]|\\.)*"(,[a-z_]+="([^"\\]|\\.)*")*\})? ([-+]?[0-9.]+([eE][-+]?[0-9]+)?|[-+]Inf|NaN)$'
prom_ok() {
	[[ -s $PROM ]] && grep -q '^nanoid_backfill_rows_filled_total{backfill_job="public.t.public_id"} [1-9]' "$PROM"
}
wait_for 15 "the metrics file with rows filled" prom_ok
assert_file_match "$PROM" '^nanoid_backfill_up\{backfill_job="public\.t\.public_id"\} 1$' "metrics: up 1 for the job"
assert_file_match "$PROM" '^# TYPE nanoid_backfill_rows_filled_total counter$' "metrics: TYPE lines"
assert_eq "$(grep -v '^# \(HELP\|TYPE\) nanoid_backfill_' "$PROM" | grep -c -v -E "$SAMPLE_RE" || true)" 0 \
	"metrics: every other line is a sample in the exposition format"
assert_eq "$(find "$WORK/metrics" -type f | wc -l)" 1 "metrics: no temporary file left beside it"

# --- SIGHUP with a changed live key and a changed restart-only key -------------
sed -i -e 's/^batch-size = 1000$/batch-size = 5000/' -e 's/^table = t$/table = t_other/' "$JOB"
L=$(($(nlines) + 1))
E=$(($(err_lines) + 1))
kill -HUP "$BF_PID"
wait_for 10 "RELOADING=1 then READY=1 after SIGHUP" ready_after_reload "$L"
pass "SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1"
M1=$(last_monotonic)
wait_for 10 "the changed batch-size in the log" \
	err_after "$E" 'batch-size[^0-9]*1000[^0-9]+5000'
pass "reload: batch-size 1000 -> 5000 logged ($(tail -n "+$E" "$ERR" | grep -Ei -m1 'batch-size'))"
wait_for 10 "the restart-only table change in the log" \
	err_after "$E" "table.*'?t'?.*'?t_other'?.*restart"
pass "reload: a changed table is logged with old and new value and needs a restart"
pid_alive "$BF_PID" || fail "the daemon exited after a valid reload"
pass "still running after a valid reload"

# --- SIGHUP with an invalid file: refused, old config kept ---------------------
sed -i 's/^table = t_other$/table = t/' "$JOB"
echo "no-such-key = 1" >>"$JOB"
L=$(($(nlines) + 1))
E=$(($(err_lines) + 1))
kill -HUP "$BF_PID"
wait_for 10 "RELOADING=1 then READY=1 after the invalid reload" ready_after_reload "$L"
pass "invalid reload: RELOADING=1 then READY=1 (the manager leaves the reloading state)"
M2=$(last_monotonic)
((M2 > M1)) || fail "MONOTONIC_USEC did not increase: $M1 then $M2"
pass "MONOTONIC_USEC increases from one reload to the next ($M1 < $M2)"
wait_for 10 "a warning naming the bad key" \
	err_after "$E" "warn.*no-such-key"
pass "invalid reload logged as a warning: $(tail -n "+$E" "$ERR" | grep -Ei -m1 'no-such-key')"
if tail -n "+$E" "$ERR" | grep -Eq "$NB_ERR_RE"; then
	fail "an invalid reload logged an error line: $(tail -n "+$E" "$ERR" | grep -E -m1 "$NB_ERR_RE")"
fi
pass "invalid reload: no error line"
sleep 1
pid_alive "$BF_PID" || fail "the daemon exited after an invalid reload"
pass "still running after an invalid reload"

# Still at work on the running config: the first pass ends, then rows
# inserted later with NULL are filled.
wait_for 60 "the first pass to fill every row" \
	sql_true "SELECT count(*) = 0 FROM t WHERE public_id IS NULL"
psqlc "INSERT INTO t SELECT i, NULL FROM generate_series($((N + 1)), $((N + 500))) i"
wait_for 15 "the 500 rows inserted after the invalid reload to be filled" \
	sql_true "SELECT count(*) = 0 FROM t WHERE public_id IS NULL"
pass "after the invalid reload, rows inserted with NULL are still filled"
assert_sql "SELECT count(*) FROM t WHERE public_id !~ '$NB_DEFAULT_ID_RE'" 0 "default nanoids"

# --- SIGTERM: STOPPING=1, exit 0 ----------------------------------------------
L=$(($(nlines) + 1))
kill -TERM "$BF_PID"
wait_exit "$BF_PID" 15
assert_eq "$RC" 0 "SIGTERM -> exit 0"
assert_file_match "$PROM" '^nanoid_backfill_up\{backfill_job="public\.t\.public_id"\} 0$' "metrics: up 0 in the file written on exit"
has_after "$L" '^STOPPING=1$' || fail "no STOPPING=1 after SIGTERM (got: $(since "$L" | tr '\n' ' ' | head -c 300))"
pass "STOPPING=1 after SIGTERM"
# One process, one worker, never killed: no lease was ever let go
# unfinished. (A reload once made the batch in flight look short against
# the new batch-size, and the worker dropped its lease and took it back.)
assert_file_nomatch "$ERR" 'resuming lease' "a reload does not make the worker drop its lease"
if since "$(($(grep -n -x 'STOPPING=1' "$LOG" | tail -n 1 | cut -d: -f1) + 1))" | grep -qx 'READY=1'; then
	fail "READY=1 after STOPPING=1"
fi
pass "nothing claims readiness after STOPPING=1"

# --- without NOTIFY_SOCKET nothing is sent -------------------------------------
L=$(($(nlines) + 1))
run_bf --table t --column public_id --until-done
assert_eq "$RC" 0 "a run without NOTIFY_SOCKET: exit 0"
sleep 0.2
assert_eq "$(since "$L" | wc -l)" 0 "a run without NOTIFY_SOCKET sends nothing"

finish
