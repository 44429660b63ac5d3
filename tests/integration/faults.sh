#!/usr/bin/env bash
# faults: the daemon under faults, against a real server. After every
# scenario the same invariants hold (invariants.sh: no NULL, the configured
# format, no duplicate, pre-existing and application-written values kept,
# nothing overwritten, no row filled twice):
#   a. SIGKILL at >= 10 random moments (0.2-1.5 s after each start) during a
#      500,000-row backfill with 2 workers, restarting each time; after every
#      kill the progress tables agree with the committed rows;
#   b. `pg_ctl restart -m fast` three times under a service-mode run: the
#      daemon never exits, reconnects and fills everything, then SIGTERM -> 0;
#   c. pg_terminate_backend of all its backends, three times: it reconnects
#      and finishes (ids of a configured format: prefix, size, alphabet);
#   d. a statement timeout mid-batch (a trigger sleeps on some rows): the
#      batch fails with 57014, is retried and split, and completes once the
#      slow rows are fast again;
#   e. --until-done with the server gone for good: exit 1 within
#      --reconnect-timeout with one clear error line; run again later, it
#      resumes and finishes.
# FAULTS_SEED=N replays the random kill moments of a run (printed first).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
. "$LIB_DIR/invariants.sh"

SEED=${FAULTS_SEED:-$((($$ ^ $(date +%s)) % 32768))}
RANDOM=$SEED
echo "# FAULTS_SEED=$SEED"

pg_start

# rand_sleep LO HI: a random duration in [LO, HI] seconds, as text.
rand_sleep() {
	awk -v r="$RANDOM" -v lo="$1" -v hi="$2" 'BEGIN { printf "%.2f", lo + (hi - lo) * r / 32767 }'
}

daemon_backends() {
	psqlc "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$INV_DAEMON_APP'"
}

# progress_agrees WHAT TABLE: the progress view counts exactly the rows the
# daemon's committed batches filled.
progress_agrees() {
	local done_ writes
	done_=$(view_rows_done "$2")
	writes=$(inv_daemon_writes "$2")
	[[ $done_ == "$writes" ]] ||
		fail "$1: progress says $done_ rows filled, the table has $writes filled by the daemon"
}

# --- a. SIGKILL at random moments -------------------------------------------
N_A=500000
inv_make_table ta "$N_A" 20
# Every batch takes at least 25 ms (a statement trigger sleeps), so the fill
# rate has a ceiling (2 workers x 300 rows / 25 ms) whatever the machine,
# and every kill lands mid-backfill. The final run goes without it.
psqlf <<'SQL'
CREATE FUNCTION pace() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_sleep(0.025); RETURN NULL; END $$;
CREATE TRIGGER pace AFTER UPDATE ON ta FOR EACH STATEMENT EXECUTE FUNCTION pace();
SQL
TODO_A=$(psqlc "SELECT count(*) FROM ta WHERE public_id IS NULL")
ARGS_A=(--table ta --column public_id --until-done --workers 2 --batch-size 300
	--lease-size 20000 --progress-interval 1)
kills=0
for ((i = 1; i <= 14 && kills < 12; i++)); do
	bg_bf "${ARGS_A[@]}"
	sleep "$(rand_sleep 0.2 1.5)"
	if ! pid_alive "$BF_PID"; then
		wait_exit "$BF_PID" 5
		echo "# start $i: the run ended (code $RC) before its kill"
		break
	fi
	kill_bf KILL "$BF_PID"
	wait_for 20 "kill $i: the killed daemon's backends to end" no_other_backends
	filled=$(inv_daemon_writes ta)
	progress_agrees "kill $i" ta
	if ((filled < TODO_A)); then
		kills=$((kills + 1))
	fi
	echo "# kill $i: $filled of $TODO_A rows filled"
done
((kills >= 10)) || fail "kills: want at least 10 kills mid-backfill, got $kills"
pass "kills: $kills SIGKILLs mid-backfill, progress agreed with the data after each"
psqlc "DROP TRIGGER pace ON ta"
run_bf "${ARGS_A[@]}"
assert_eq "$RC" 0 "kills: the final --until-done run exits 0"
assert_file_match "$ERR" "$NB_RESUME_RE" "kills: the final run resumes"
inv_check "kills" ta
assert_eq "$(inv_daemon_writes ta)" "$TODO_A" "kills: every NULL row filled exactly once"
progress_agrees "kills: the end" ta

# --- b. server restarts under a service-mode run ----------------------------
inv_make_table tb 100000 20
bg_bf --table tb --column public_id --workers 2 --batch-size 200 --lease-size 10000 \
	--idle-interval 1 --progress-interval 1
# lines_more FILE ERE N: FILE has more than N lines matching ERE.
lines_more() {
	(($(grep -Ec -- "$2" "$1") > $3))
}
for r in 1 2 3; do
	before=$(inv_daemon_writes tb)
	seen=$(grep -c 'reconnected' "$ERR" || true)
	wait_for 60 "restart $r: the daemon to fill rows" \
		sql_true "SELECT count(*) > $before FROM inv_audit_tb WHERE app = '$INV_DAEMON_APP'"
	pg_restart
	pid_alive "$BF_PID" || fail "restart $r: the daemon exited"
	wait_for 60 "restart $r: the daemon to reconnect" lines_more "$ERR" 'reconnected' "$seen"
	pass "restart $r: the daemon survived and reconnected"
	# New work for the next restart to interrupt.
	psqlc "INSERT INTO tb (id, note) SELECT i, 'after restart $r'
	        FROM generate_series(100000 + $r * 20000 + 1, 100000 + ($r + 1) * 20000) i"
done
wait_for 60 "restarts: every row filled" sql_true "SELECT NOT EXISTS (SELECT 1 FROM tb WHERE public_id IS NULL)"
assert_file_match "$ERR" 'connection lost' "restarts: the losses are logged"
psqlc "INSERT INTO tb (id, note) SELECT i, 'late' FROM generate_series(200001, 201000) i"
wait_for 15 "restarts: rows inserted later filled" \
	sql_true "SELECT NOT EXISTS (SELECT 1 FROM tb WHERE public_id IS NULL)"
pid_alive "$BF_PID" || fail "restarts: the daemon exited"
kill_bf TERM "$BF_PID"
assert_eq "$RC" 0 "restarts: SIGTERM -> exit 0"
inv_check "restarts" tb

# --- c. pg_terminate_backend of all its backends ------------------------------
inv_make_table tc 200000 20
TC_RE='^tc_[0-9a-f]{16}$'   # a configured format of its own
bg_bf --table tc --column public_id --until-done --workers 2 --batch-size 300 \
	--lease-size 20000 --progress-interval 1 --prefix tc_ --size 16 --alphabet 0123456789abcdef
for k in 1 2 3; do
	before=$(inv_daemon_writes tc)
	wait_for 60 "terminate $k: the daemon to fill rows" \
		sql_true "SELECT count(*) > $before + 5000 FROM inv_audit_tc WHERE app = '$INV_DAEMON_APP'"
	n=$(psqlc "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
	            WHERE application_name = '$INV_DAEMON_APP'")
	echo "# terminate $k: $n backends"
	((n >= 1)) || fail "terminate $k: no backend of the daemon found"
done
wait_exit "$BF_PID" 120
assert_eq "$RC" 0 "terminate: the run exits 0"
assert_file_match "$ERR" 'connection lost' "terminate: the losses are logged"
assert_file_match "$ERR" 'reconnected' "terminate: the workers reconnect"
inv_check "terminate" tc "$TC_RE"
assert_eq "$(inv_daemon_writes tc)" "$(psqlc "SELECT count(*) FROM tc WHERE id NOT IN (SELECT id FROM inv_snap_tc)")" \
	"terminate: every NULL row filled exactly once"

# --- d. statement timeout mid-batch -----------------------------------------
inv_make_table td 30000 20
psqlf <<'SQL'
CREATE TABLE td_slow (on_ boolean NOT NULL);
INSERT INTO td_slow VALUES (true);
-- Rows 7001, 14001, ... take 1 s to update while td_slow says so: longer
-- than the daemon's 300 ms statement timeout.
CREATE FUNCTION td_slow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.id % 7000 = 1 AND (SELECT on_ FROM td_slow) THEN
    PERFORM pg_sleep(1);
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER td_slow BEFORE UPDATE ON td FOR EACH ROW EXECUTE FUNCTION td_slow();
SQL
bg_bf --dsn 'options=-cstatement_timeout=300' --statement-timeout 300 \
	--table td --column public_id --until-done --workers 2 --batch-size 400 \
	--min-batch-size 25 --lease-size 5000 --progress-interval 1
wait_for 60 "timeout: a batch split down to 25 rows" grep -q 'split to 25 rows' "$ERR"
assert_file_match "$ERR" '57014' "timeout: the batch hit the statement timeout (57014)"
assert_sql "SELECT count(*) FROM td WHERE id % 7000 = 1 AND public_id IS NOT NULL" 0 \
	"timeout: the slow rows are not filled while slow"
psqlc "UPDATE td_slow SET on_ = false"
wait_exit "$BF_PID" 90
assert_eq "$RC" 0 "timeout: the run completes once the rows are fast, exit 0"
inv_check "timeout" td

# --- e. server gone for good under --until-done -----------------------------
inv_make_table te 200000 20
bg_bf --table te --column public_id --until-done --workers 2 --batch-size 200 \
	--lease-size 10000 --reconnect-timeout 3 --progress-interval 1
wait_for 60 "gone: the daemon to fill rows" \
	sql_true "SELECT count(*) > 5000 FROM inv_audit_te WHERE app = '$INV_DAEMON_APP'"
START=$(now_s) # the connections go early in the shutdown, pg_stop returns later
pg_stop
wait_exit "$BF_PID" 30
took=$(elapsed_s "$START")
echo "# gone: exited after $took s"
assert_eq "$RC" 1 "gone: exit 1"
float_between "$took" 2.8 4.5 || fail "gone: exited after $took s, want about --reconnect-timeout 3 s"
pass "gone: gave up after $took s (--reconnect-timeout 3)"
assert_eq "$(grep -c "$NB_ERR_RE" "$ERR")" 1 "gone: one error line"
assert_file_match "$ERR" "${NB_ERR_RE}.*(connection|connect).*reconnect-timeout" \
	"gone: the error names the lost connection and --reconnect-timeout"
pg_resume
progress_agrees "gone: after the exit" te
run_bf --table te --column public_id --until-done --workers 2 --batch-size 2000
assert_eq "$RC" 0 "gone: a run once the server is back exits 0"
assert_file_match "$ERR" "$NB_RESUME_RE" "gone: it resumes"
inv_check "gone" te

finish
