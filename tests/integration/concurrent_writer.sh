#!/usr/bin/env bash
# concurrent_writer: while the daemon fills the table, the "application"
# writes values into NULL rows, one row per transaction, half of them at
# random and half just ahead of the daemon's committed cursor (inside or next
# to its in-flight batch). The daemon must never overwrite a value the
# application wrote: an audit trigger records every overwrite of a non-NULL.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

N=200000
BATCH=200
CURSOR_COL=cursor   # lease column holding the last key of the lease's last batch
pg_start

psqlf <<SQL
CREATE TABLE t (id bigint PRIMARY KEY, public_id text);
INSERT INTO t SELECT i, NULL FROM generate_series(1, $N) i;
ANALYZE t;
CREATE TABLE app_wrote (id bigint NOT NULL);
CREATE TABLE overwrites (id bigint, old_value text, new_value text);
CREATE TABLE ctl (stop boolean NOT NULL);

CREATE FUNCTION audit_overwrite() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
  IF OLD.public_id IS NOT NULL THEN
    INSERT INTO overwrites VALUES (OLD.id, OLD.public_id, NEW.public_id);
  END IF;
  RETURN NEW;
END \$\$;
CREATE TRIGGER audit_overwrite BEFORE UPDATE OF public_id ON t
  FOR EACH ROW EXECUTE FUNCTION audit_overwrite();

-- The application: one row per transaction until told to stop (bounded).
CREATE PROCEDURE app_loop(max_iter int) LANGUAGE plpgsql AS \$\$
DECLARE
  cur bigint;
  target bigint;
BEGIN
  FOR i IN 1 .. max_iter LOOP
    EXIT WHEN EXISTS (SELECT 1 FROM ctl WHERE stop);
    cur := NULL;
    IF i % 2 = 0 THEN
      BEGIN
        EXECUTE format('SELECT max((%I[1])::bigint) FROM $NB_LEASES WHERE state = %L',
                       '$CURSOR_COL', 'open') INTO cur;
      EXCEPTION WHEN OTHERS THEN
        cur := NULL;   -- no progress table yet, or another cursor format
      END;
    END IF;
    IF cur IS NOT NULL THEN
      target := cur + 1 + floor(random() * $((2 * BATCH)));
    ELSE
      target := 1 + floor(random() * $N);
    END IF;
    WITH u AS (UPDATE t SET public_id = 'app:' || id
                WHERE id = target AND public_id IS NULL RETURNING id)
    INSERT INTO app_wrote SELECT id FROM u;
    COMMIT;
    PERFORM pg_sleep(0.002);
  END LOOP;
END \$\$;
SQL

psqlc "CALL app_loop(20000)" >"$WORK/app.out" 2>"$WORK/app.err" &
APP_PID=$!
BG_PIDS+=("$APP_PID")
wait_for 10 "the application to write its first rows" \
	sql_true "SELECT count(*) > 10 FROM app_wrote"

run_bf --table t --column public_id --until-done --batch-size "$BATCH" --progress-interval 1
daemon_rc=$RC
psqlc "INSERT INTO ctl VALUES (true)"
wait_exit "$APP_PID" 30
assert_eq "$RC" 0 "the application loop ended cleanly"
assert_eq "$daemon_rc" 0 "daemon: exit 0"

app=$(psqlc "SELECT count(*) FROM app_wrote")
echo "# the application wrote $app rows during the run"
assert_sql "SELECT count(*) > 20 FROM app_wrote" t "the application raced the daemon (>20 writes)"
assert_sql "SELECT count(*) FROM app_wrote a JOIN t USING (id)
             WHERE t.public_id IS DISTINCT FROM 'app:' || a.id" 0 \
	"every row the application wrote still has its value"
assert_sql "SELECT count(*) FROM overwrites" 0 "the daemon overwrote no value"
assert_sql "SELECT count(*) FROM t WHERE public_id IS NULL" 0 "no NULL left"
assert_sql "SELECT count(*) FROM t WHERE public_id NOT LIKE 'app:%'
                                   AND public_id !~ '$NB_DEFAULT_ID_RE'" 0 \
	"every other row holds a default nanoid"
assert_sql "SELECT count(*) FROM t WHERE public_id ~ '^app:'" "$app" \
	"rows with app values = rows the application wrote"
assert_sql "SELECT rows_done FROM $NB_JOBS WHERE table_name = 't'" "$((N - app))" \
	"rows_done counts only the rows the daemon wrote ($N - $app)"

finish
