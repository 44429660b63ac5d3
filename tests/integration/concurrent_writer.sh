#!/usr/bin/env bash
# concurrent_writer: while the daemon fills the table, the "application"
# writes values into NULL rows, one row per transaction, half of them at
# random and half just ahead of the daemon's committed cursor (inside or next
# to its in-flight batch). The daemon must never overwrite a value the
# application wrote: an audit trigger records every overwrite of a non-NULL.
# Then rows updated under the batches (EvalPlanQual rechecks): no id may go
# to two rows, by key or in physical order.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

N=200000
BATCH=200
CURSOR_COL=cursor   # lease column holding the last key of the lease's last batch
need_pgbench
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

# By key: the writer aims just past the key cursor, which a physical walk
# (auto's choice under --until-done) does not keep.
run_bf --table t --column public_id --until-done --order key --batch-size "$BATCH" \
	--progress-interval 1
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

# Rows updated under the batches (other columns, by 4 sessions): each such
# row is checked again on its newest version (EvalPlanQual) and draws a
# second number from the batch's counter. The numbers must never repeat:
# no id given to two rows, in either order. Meanwhile a fifth session
# writes values of its own into NULL rows: a row it filled first is the
# application's, and the count of rows filled must say so. (No trigger on
# epq: physical order's direct batches are the counted form, whose count
# comes from the server's count of row updates, not from RETURNING.)
psqlf <<'SQL'
CREATE TABLE epq (id bigint PRIMARY KEY, c text, v int NOT NULL DEFAULT 0);
INSERT INTO epq SELECT i, NULL, 0 FROM generate_series(1, 50000) i;
ANALYZE epq;
SQL
printf '\\set id random(1, 50000)\nUPDATE epq SET v = v + 1 WHERE id BETWEEN :id AND :id + 3;\n' >"$WORK/epq.sql"
printf '\\set id random(1, 50000)\nUPDATE epq SET c = '"'"'app:'"'"' || id WHERE id = :id AND c IS NULL;\n' >"$WORK/epq-app.sql"
for order in key physical; do
	psqlf <<<"UPDATE epq SET c = NULL"
	"$PGBENCH" -n -c 4 -T 4 -f "$WORK/epq.sql" >"$WORK/epq-$order.out" 2>&1 &
	bench=$!
	BG_PIDS+=("$bench")
	"$PGBENCH" -n -c 1 -T 4 -f "$WORK/epq-app.sql" >"$WORK/epq-app-$order.out" 2>&1 &
	app_bench=$!
	BG_PIDS+=("$app_bench")
	sleep 0.5
	run_bf --table epq --column c --until-done --order "$order" --batch-size 500 \
		--max-latency-increase 0 --job "epq-$order" --log-level debug
	wait "$bench" || fail "$order, rows updated under the batches: pgbench failed: $(tail -n 3 "$WORK/epq-$order.out")"
	_forget_pid "$bench"
	wait "$app_bench" || fail "$order, the application's writes: pgbench failed: $(tail -n 3 "$WORK/epq-app-$order.out")"
	_forget_pid "$app_bench"
	assert_eq "$RC" 0 "$order, rows updated under the batches: exit 0"
	form='\(direct\)'
	[[ $order == key ]] || form='\(direct, counted\)'
	assert_file_match "$ERR" "rows found, [0-9]+ filled, 0 busy in [0-9.]+ ms $form" \
		"$order, rows updated under the batches: direct batches, $form"
	assert_sql "SELECT count(*) FILTER (WHERE c IS NULL), count(DISTINCT c) FROM epq" "0|50000" \
		"$order, rows updated under the batches: no NULL, 50000 distinct ids"
	assert_sql "SELECT sum(v) > 0 FROM epq" t "$order, rows updated under the batches: they were updated"
	app=$(psqlc "SELECT count(*) FROM epq WHERE c LIKE 'app:%'")
	echo "# $order: the application filled $app rows during the run"
	assert_sql "SELECT count(*) FROM epq WHERE c NOT LIKE 'app:%' AND c !~ '$NB_DEFAULT_ID_RE'" 0 \
		"$order: every other row holds a default nanoid"
	assert_sql "SELECT rows_done FROM $NB_JOBS WHERE job = 'epq-$order'" "$((50000 - app))" \
		"$order: rows_done counts the rows the daemon filled, each once (50000 - $app)"
	assert_file_match "$ERR" "done: no NULL left .*; $((50000 - app)) rows filled by this run" \
		"$order: the summary counts the same"
done

finish
