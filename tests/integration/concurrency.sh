#!/usr/bin/env bash
# concurrency: while the daemon runs as a service (2 workers, small batches,
# --idle-interval 1), an "application" - a PL/pgSQL procedure that commits
# after every step, for a bounded number of iterations - inserts rows with
# NULL and with values, fills the column where it is NULL, updates other
# columns and deletes rows. It logs every value it writes (invariants.sh).
# Afterwards the invariants hold: nothing the application wrote and nothing
# that was there before is changed, nothing is filled twice, no NULL is left;
# and NULL rows inserted while the daemon idles are filled within a few idle
# intervals.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
. "$LIB_DIR/invariants.sh"

N=100000
ITERS=${CONCURRENCY_ITERS:-500}
IDLE=1
pg_start
inv_make_table tw "$N" 10

psqlf <<SQL
CREATE SEQUENCE tw_new START $((N + 1));
CREATE TABLE app_stats (what text PRIMARY KEY, n bigint NOT NULL DEFAULT 0);
INSERT INTO app_stats VALUES ('null inserts'), ('value inserts'), ('fills'), ('updates'), ('deletes');
-- The application: every step is its own transaction, rows in ascending key
-- order (as the daemon's batches lock them). Each value it writes is logged
-- in the same transaction as the write.
CREATE PROCEDURE app_work(iters int) LANGUAGE plpgsql AS \$\$
DECLARE
  k bigint;
  c bigint;
BEGIN
  FOR i IN 1..iters LOOP
    k := 1 + floor(random() * (SELECT last_value FROM tw_new))::bigint;
    -- rows with NULL, as old application code still inserts them
    INSERT INTO tw (id, note) SELECT nextval('tw_new'), 'app null ' || i FROM generate_series(1, 5);
    UPDATE app_stats SET n = n + 5 WHERE what = 'null inserts';
    COMMIT;
    -- rows with a value, as new application code inserts them
    WITH ins AS (
      INSERT INTO tw (id, public_id, note)
        SELECT nextval('tw_new'), 'app_' || md5(random()::text), 'app value ' || i FROM generate_series(1, 2)
        RETURNING id, public_id)
    INSERT INTO inv_app_tw SELECT id, public_id FROM ins;
    UPDATE app_stats SET n = n + 2 WHERE what = 'value inserts';
    COMMIT;
    -- the application fills some NULLs itself (never over a value)
    WITH upd AS (
      UPDATE tw SET public_id = 'app_' || md5(random()::text)
       WHERE id BETWEEN k AND k + 30 AND public_id IS NULL
       RETURNING id, public_id)
    INSERT INTO inv_app_tw SELECT id, public_id FROM upd;
    GET DIAGNOSTICS c = ROW_COUNT;
    UPDATE app_stats SET n = n + c WHERE what = 'fills';
    COMMIT;
    -- other columns change under the daemon
    UPDATE tw SET note = 'touched ' || i, n = n + 1 WHERE id BETWEEN k + 100 AND k + 160;
    GET DIAGNOSTICS c = ROW_COUNT;
    UPDATE app_stats SET n = n + c WHERE what = 'updates';
    COMMIT;
    -- rows go away
    DELETE FROM tw WHERE id BETWEEN k + 300 AND k + 302;
    GET DIAGNOSTICS c = ROW_COUNT;
    UPDATE app_stats SET n = n + c WHERE what = 'deletes';
    COMMIT;
    PERFORM pg_sleep(0.01);
  END LOOP;
END \$\$;
SQL

bg_bf --table tw --column public_id --workers 2 --batch-size 100 --lease-size 5000 \
	--idle-interval "$IDLE" --progress-interval 1
DAEMON=$BF_PID
wait_for 30 "the daemon to start filling" \
	sql_true "SELECT EXISTS (SELECT 1 FROM inv_audit_tw WHERE app = '$INV_DAEMON_APP')"

START=$(now_s)
psql -X -v ON_ERROR_STOP=1 -qAt -c "CALL app_work($ITERS)" >"$WORK/app.log" 2>&1 &
APP=$!
BG_PIDS+=("$APP")
wait_exit "$APP" 120
[[ $RC == 0 ]] || fail "the application workload failed: $(head -c 600 "$WORK/app.log")"
echo "# application: $ITERS iterations in $(elapsed_s "$START") s;" \
	"$(psqlc "SELECT string_agg(what || ' ' || n, ', ' ORDER BY what) FROM app_stats")"
pass "the application workload ran to its end while the daemon ran"
((($(psqlc "SELECT min(n) FROM app_stats")) > 0)) || fail "some kind of application write never happened"
pass "the application inserted, filled, updated and deleted rows"
# shellcheck disable=SC2034 # read by lib.sh's wait_for
WATCH_PID=$DAEMON
pid_alive "$DAEMON" || fail "the daemon exited during the workload"

# The NULL rows the application inserted: filled within a few idle intervals.
START=$(now_s)
wait_for 30 "every row filled after the workload" \
	sql_true "SELECT NOT EXISTS (SELECT 1 FROM tw WHERE public_id IS NULL)"
took=$(elapsed_s "$START")
echo "# the last NULL rows were filled $took s after the workload ended"
float_between "$took" 0 $((4 * IDLE + 2)) || fail "rows left NULL for $took s after the workload, want at most $((4 * IDLE + 2)) s"
pass "rows inserted with NULL during the workload filled within a few idle intervals ($took s)"
inv_check "after the workload" tw

# Idle daemon: a new NULL row is filled within about one idle interval.
sleep $((2 * IDLE))
START=$(now_s)
psqlc "INSERT INTO tw (id, note) SELECT nextval('tw_new'), 'late' FROM generate_series(1, 50)"
wait_for 30 "late NULL rows filled" sql_true "SELECT NOT EXISTS (SELECT 1 FROM tw WHERE public_id IS NULL)"
took=$(elapsed_s "$START")
float_between "$took" 0 $((2 * IDLE + 1)) || fail "late rows filled after $took s, want at most $((2 * IDLE + 1)) s"
pass "rows inserted while idle filled in $took s (--idle-interval $IDLE)"

kill_bf TERM "$DAEMON"
assert_eq "$RC" 0 "SIGTERM -> exit 0"
inv_check "at the end" tw
assert_sql "SELECT count(*) FROM inv_audit_tw WHERE app NOT IN ('$INV_DAEMON_APP', 'psql')" 0 \
	"only the daemon and the application wrote the column"

finish
