#!/usr/bin/env bash
# least_privilege: the daemon runs as a role with only the grants the README
# lists (## Privileges): CONNECT on the database, USAGE on the table's schema,
# SELECT on the table, UPDATE of the one column, USAGE on the progress schema
# and SELECT, INSERT, UPDATE, DELETE on its two tables (the schema created
# beforehand by a run as a superuser).
#   1. with exactly those grants it fills the table (without TEMPORARY on
#      the database, with one warning: physical batches join back to their
#      rows); given TEMPORARY, with no warning and direct batches;
#   2. without the progress schema and without CREATE on the database:
#      exit 78 naming the permission, nothing created;
#   3. a job file holding a password that group or others can read gets a
#      warning (conninfo keyword and URI forms); mode 600 does not; the
#      password itself is never printed, not even on errors or a reload;
#   4. without UPDATE on the column: --check-config says so (exit 78); a
#      run exits 78 with one error line naming the permission problem, and
#      nothing written (not the table, not the progress tables).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

pg_start
DB=$PGDATABASE
SECRET='Sup3r-S3cret-pw-9f1c'

psqlf <<SQL
CREATE SCHEMA app;
CREATE TABLE app.orders (id bigint PRIMARY KEY, public_id text, total int);
INSERT INTO app.orders SELECT i, CASE WHEN i % 7 = 0 THEN 'kept' || i END, i FROM generate_series(1, 20000) i;
CREATE TABLE app.orders2 (id bigint PRIMARY KEY, public_id text);
INSERT INTO app.orders2 SELECT i, NULL FROM generate_series(1, 1000) i;
CREATE TABLE app.probe (id bigint PRIMARY KEY, public_id text);
INSERT INTO app.probe VALUES (1, NULL);
SQL

# The progress schema, created once by a privileged run (here on a one-row
# table): the role itself cannot create it.
run_bf --table probe --schema app --column public_id --until-done
assert_eq "$RC" 0 "a superuser run creates the progress schema"

psqlf <<SQL
REVOKE ALL ON DATABASE "$DB" FROM PUBLIC;
CREATE ROLE backfill LOGIN;
GRANT CONNECT ON DATABASE "$DB" TO backfill;
GRANT USAGE ON SCHEMA app TO backfill;
GRANT SELECT ON app.orders, app.orders2 TO backfill;
GRANT UPDATE (public_id) ON app.orders TO backfill;
GRANT USAGE ON SCHEMA $NB_PROGRESS_SCHEMA TO backfill;
GRANT SELECT, INSERT, UPDATE, DELETE ON $NB_PROGRESS_SCHEMA.jobs, $NB_PROGRESS_SCHEMA.leases TO backfill;
GRANT SELECT ON $NB_PROGRESS_SCHEMA.job_progress TO backfill;   -- for 'status' only
SQL
assert_sql "SELECT has_database_privilege('backfill', '$DB', 'CREATE')
             OR has_schema_privilege('backfill', 'app', 'CREATE')
             OR has_table_privilege('backfill', 'app.orders', 'UPDATE')
             OR has_column_privilege('backfill', 'app.orders', 'total', 'UPDATE')
             OR has_table_privilege('backfill', 'app.orders', 'INSERT, DELETE, TRUNCATE')" f \
	"the role has nothing beyond the listed grants"

AS_ROLE=(--dsn 'user=backfill')

# 1. Exactly the grants: it works, with 2 workers.
KEPT=$(psqlc "SELECT md5(string_agg(id || public_id, ',' ORDER BY id)) FROM app.orders WHERE public_id IS NOT NULL")
run_bf "${AS_ROLE[@]}" --schema app --table orders --column public_id --until-done --workers 2 \
	--batch-size 500 --lease-size 5000
assert_eq "$RC" 0 "as the role: exit 0 ($(tail -n 1 "$ERR"))"
assert_sql "SELECT count(*) FROM app.orders WHERE public_id IS NULL" 0 "as the role: no NULL left"
assert_sql "SELECT count(*) FROM app.orders WHERE public_id !~ '$NB_DEFAULT_ID_RE' AND public_id !~ '^kept'" 0 \
	"as the role: every value a nanoid or a kept value"
assert_sql "SELECT md5(string_agg(id || public_id, ',' ORDER BY id)) FROM app.orders WHERE id % 7 = 0" "$KEPT" \
	"as the role: pre-existing values kept"
assert_sql "SELECT state FROM $NB_PROGRESS_VIEW WHERE table_name = 'orders'" 'done' "as the role: the job is done"
# No TEMPORARY on the database (revoked from PUBLIC above): one warning,
# and batches that join back to the rows they found.
assert_eq "$(grep -c "warn: worker [0-9]: creating the batches' row counter: .*(SQLSTATE 42501); batches find their rows before they update them instead" "$ERR")" 1 \
	"as the role, without TEMPORARY: one warning for both workers"

# 1b. With TEMPORARY: no warning, and the batches update their windows directly.
psqlf <<SQL
UPDATE app.orders SET public_id = NULL WHERE id % 7 <> 0;
GRANT TEMPORARY ON DATABASE "$DB" TO backfill;
SQL
run_bf "${AS_ROLE[@]}" --schema app --table orders --column public_id --until-done --workers 2 \
	--batch-size 500 --lease-size 5000 --order physical --job orders-temp --log-level debug
assert_eq "$RC" 0 "as the role, with TEMPORARY: exit 0 ($(tail -n 1 "$ERR"))"
assert_file_nomatch "$ERR" "row counter" "as the role, with TEMPORARY: no warning"
assert_file_match "$ERR" 'rows found, [0-9]+ filled, 0 busy in [0-9.]+ ms \(direct(, counted)?\)' \
	"as the role, with TEMPORARY: direct batches"
assert_sql "SELECT count(*) FROM app.orders WHERE public_id IS NULL" 0 "as the role, with TEMPORARY: no NULL left"
assert_sql "SELECT count(DISTINCT public_id) FROM app.orders" 20000 "as the role, with TEMPORARY: every value distinct"
assert_sql "SELECT md5(string_agg(id || public_id, ',' ORDER BY id)) FROM app.orders WHERE id % 7 = 0" "$KEPT" \
	"as the role, with TEMPORARY: pre-existing values kept"
psqlf <<SQL
REVOKE TEMPORARY ON DATABASE "$DB" FROM backfill;
SQL

run_bf status "${AS_ROLE[@]}"
assert_eq "$RC" 0 "as the role: 'status' works"
assert_file_match "$OUT" 'orders' "as the role: 'status' lists the job"

# 2. No progress schema, no CREATE on the database.
run_bf "${AS_ROLE[@]}" --schema app --table orders --column public_id --until-done \
	--progress-schema other_progress
assert_eq "$RC" 78 "no CREATE for the progress schema: exit 78"
assert_file_match "$ERR" "${NB_ERR_RE}.*permission denied" "no CREATE for the progress schema: names the permission"
assert_sql "SELECT to_regnamespace('other_progress') IS NULL" t "no CREATE for the progress schema: nothing created"

# 3. A password in a job file.
secret_nowhere() {
	if grep -rqF -- "$SECRET" "$WORK"/run*.out "$WORK"/run*.err; then
		fail "$1: the password appears in the output: $(grep -rlF -- "$SECRET" "$WORK"/run*.out "$WORK"/run*.err)"
	fi
	pass "$1: the password is printed nowhere"
}
JOB=$WORK/orders.conf
write_job() { # DSN MODE
	printf 'dsn = %s\nschema = app\ntable = orders\ncolumn = public_id\n' "$1" >"$JOB"
	chmod "$2" "$JOB"
}
WARN_RE='warn: job file .*orders\.conf is readable by group or others and holds a password; chmod 600 it'

write_job "user=backfill password=$SECRET" 644
run_bf --config "$JOB" --until-done
assert_eq "$RC" 0 "password, mode 644: the run works"
assert_file_match "$ERR" "$WARN_RE" "password, mode 644: warned"

write_job "postgresql://backfill:$SECRET@/$DB?host=$PGHOST" 640
run_bf --config "$JOB" --until-done
assert_eq "$RC" 0 "password in a URI, mode 640: the run works"
assert_file_match "$ERR" "$WARN_RE" "password in a URI, mode 640: warned"

write_job "user=backfill password=$SECRET" 600
run_bf --config "$JOB" --until-done
assert_eq "$RC" 0 "password, mode 600: the run works"
assert_file_nomatch "$ERR" 'readable by group or others' "password, mode 600: no warning"

write_job "user=backfill" 644
run_bf --config "$JOB" --until-done
assert_file_nomatch "$ERR" 'readable by group or others' "no password, mode 644: no warning"

# Errors and a reload with a password in the dsn.
write_job "user=backfill dbname=no_such_db password=$SECRET" 644
run_bf --config "$JOB" --until-done
assert_eq "$RC" 1 "password, a database that does not exist: exit 1"
run_bf --dsn "user=backfill password=$SECRET port" --table orders --schema app --column public_id --until-done
assert_eq "$RC" 78 "password in a malformed conninfo: exit 78"
run_bf --config "$JOB" --until-done --check-config
write_job "user=backfill password=$SECRET" 600
bg_bf --config "$JOB" --idle-interval 1
wait_for 20 "the service to start" grep -q 'job "' "$ERR"
write_job "user=backfill password=${SECRET}-changed" 600
kill -HUP "$BF_PID"
wait_for 20 "the reload to be logged" grep -q 'reload' "$ERR"
kill_bf TERM "$BF_PID"
assert_eq "$RC" 0 "reload with a changed password, then SIGTERM: exit 0"
secret_nowhere "every run"

# 4. No UPDATE on the column. --check-config sees it first; a run refuses.
run_bf "${AS_ROLE[@]}" --schema app --table orders2 --column public_id --check-config
assert_eq "$RC" 78 "no UPDATE grant: --check-config exits 78"
assert_file_match "$ERR" "${NB_ERR_RE}.*may not update column \"public_id\"" \
	"no UPDATE grant: --check-config names the missing UPDATE privilege"
progress_digest() {
	psqlc "SELECT md5(coalesce((SELECT string_agg(j::text, '|' ORDER BY j::text) FROM $NB_PROGRESS_SCHEMA.jobs j), '')
	               || coalesce((SELECT string_agg(l::text, '|' ORDER BY l::text) FROM $NB_PROGRESS_SCHEMA.leases l), ''))"
}
BEFORE=$(table_digest app.orders2)$(progress_digest)
run_bf "${AS_ROLE[@]}" --schema app --table orders2 --column public_id --until-done
assert_eq "$RC" 78 "no UPDATE grant: exit 78"
assert_eq "$(grep -c "$NB_ERR_RE" "$ERR")" 1 "no UPDATE grant: one error line"
assert_file_match "$ERR" "${NB_ERR_RE}.*(may not update column \"public_id\" of \"app\".\"orders2\"|permission denied.*orders2)" \
	"no UPDATE grant: the line names the permission problem"
assert_eq "$(table_digest app.orders2)$(progress_digest)" "$BEFORE" \
	"no UPDATE grant: nothing written (table and progress tables unchanged)"

finish
