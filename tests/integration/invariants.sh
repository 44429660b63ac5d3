# shellcheck shell=bash
# invariants.sh - the end-state invariants of a backfill, checked the same way
# after every fault and concurrency scenario (faults.sh, concurrency.sh).
# Sourced after lib.sh; not a test of its own.
#
#   inv_make_table NAME N PRE_EVERY   NAME(id bigint PRIMARY KEY, public_id text,
#                                     note text, n int) with N rows; every
#                                     PRE_EVERY-th row already holds a value
#                                     ('pre_' || md5) and is kept in
#                                     inv_snap_NAME(id, val) - the snapshot of
#                                     values that existed before the run.
#   inv_app_NAME(id, val)             where another session (the "application")
#                                     logs every value it writes, in the same
#                                     transaction as the write.
#   inv_audit_NAME(id, old, new, app) every change of public_id, with the
#                                     writer's application_name (a trigger).
#   inv_check WHAT NAME [ID_RE]       asserts, on the committed data:
#     1. no NULL left;
#     2. every value is the snapshot's, the application's, or matches ID_RE
#        (the configured format; default: 21 symbols of the default alphabet);
#     3. no value occurs twice;
#     4. no snapshot value changed, no value the application wrote changed;
#     5. the daemon never wrote over a non-NULL value, and wrote no row twice
#        (from the audit log: nothing filled twice after kills and retries).
#   inv_daemon_writes NAME            rows the daemon filled so far (audit log)

INV_DAEMON_APP=nanoid-backfill     # the daemon's application_name

inv_make_table() {
	local t=$1 n=$2 every=$3
	psqlf <<SQL
CREATE TABLE $t (id bigint PRIMARY KEY, public_id text, note text, n int NOT NULL DEFAULT 0);
INSERT INTO $t (id, public_id, note)
  SELECT i, CASE WHEN i % $every = 0 THEN 'pre_' || md5(i::text) END, 'row ' || i
    FROM generate_series(1, $n) i;
ANALYZE $t;
CREATE TABLE inv_snap_$t AS SELECT id, public_id AS val FROM $t WHERE public_id IS NOT NULL;
CREATE TABLE inv_app_$t (id bigint NOT NULL, val text NOT NULL);
CREATE TABLE inv_audit_$t (id bigint NOT NULL, old text, new text, app text NOT NULL);
CREATE FUNCTION inv_audit_$t() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
  INSERT INTO inv_audit_$t VALUES (NEW.id, OLD.public_id, NEW.public_id,
                                   current_setting('application_name'));
  RETURN NULL;
END \$\$;
CREATE TRIGGER inv_audit AFTER UPDATE ON $t FOR EACH ROW
  WHEN (OLD.public_id IS DISTINCT FROM NEW.public_id) EXECUTE FUNCTION inv_audit_$t();
SQL
}

inv_daemon_writes() {
	psqlc "SELECT count(*) FROM inv_audit_$1 WHERE app = '$INV_DAEMON_APP'"
}

inv_check() {
	local what=$1 t=$2 re=${3:-$NB_DEFAULT_ID_RE} got
	got=$(psqlc "
	WITH app AS (SELECT DISTINCT ON (id) id, val FROM inv_app_$t ORDER BY id, ctid DESC)
	SELECT concat_ws(' ',
	  (SELECT count(*) FROM $t WHERE public_id IS NULL),
	  (SELECT count(*) FROM $t x WHERE x.public_id !~ '$re'
	     AND NOT EXISTS (SELECT 1 FROM inv_snap_$t s WHERE s.id = x.id AND s.val = x.public_id)
	     AND NOT EXISTS (SELECT 1 FROM app a WHERE a.id = x.id AND a.val = x.public_id)),
	  (SELECT count(public_id) - count(DISTINCT public_id) FROM $t),
	  (SELECT count(*) FROM inv_snap_$t s JOIN $t x USING (id) WHERE x.public_id IS DISTINCT FROM s.val),
	  (SELECT count(*) FROM app a JOIN $t x USING (id) WHERE x.public_id IS DISTINCT FROM a.val),
	  (SELECT count(*) FROM inv_audit_$t WHERE app = '$INV_DAEMON_APP' AND old IS NOT NULL),
	  (SELECT count(*) FROM (SELECT id FROM inv_audit_$t WHERE app = '$INV_DAEMON_APP'
	                          GROUP BY id HAVING count(*) > 1) d),
	  (SELECT count(*) FROM inv_audit_$t WHERE app = '$INV_DAEMON_APP' AND new !~ '$re'))") ||
		fail "$what: the invariants query failed"
	local a
	read -ra a <<<"$got"
	((${#a[@]} == 8)) || fail "$what: unexpected invariants answer '$got'"
	((a[0] == 0)) || fail "$what: ${a[0]} NULL left in $t"
	((a[1] == 0)) || fail "$what: ${a[1]} values of $t neither pre-existing, the application's, nor /$re/"
	((a[2] == 0)) || fail "$what: ${a[2]} duplicate values in $t"
	((a[3] == 0)) || fail "$what: ${a[3]} pre-existing values of $t changed"
	((a[4] == 0)) || fail "$what: ${a[4]} values the application wrote to $t changed"
	((a[5] == 0)) || fail "$what: the daemon overwrote ${a[5]} non-NULL values of $t"
	((a[6] == 0)) || fail "$what: the daemon filled ${a[6]} rows of $t more than once"
	((a[7] == 0)) || fail "$what: the daemon wrote ${a[7]} values of $t not matching /$re/"
	pass "$what: invariants hold (no NULL, format, no duplicate, snapshot and application values kept, no overwrite, no row filled twice)"
}
