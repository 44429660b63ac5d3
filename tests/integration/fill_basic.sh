#!/usr/bin/env bash
# fill_basic: a 200,000-row table is filled completely with well-formed,
# distinct default nanoids; nothing else in the rows changes; size/alphabet/
# prefix are honoured; a second run over a complete table writes nothing.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

N=200000
pg_start

psqlf <<SQL
CREATE TABLE t (id bigint PRIMARY KEY, payload text, public_id text);
INSERT INTO t SELECT i, 'payload-' || md5(i::text), NULL FROM generate_series(1, $N) i;
ANALYZE t;
SQL
payload_before=$(psqlc "SELECT md5(string_agg(payload, ',' ORDER BY id)) FROM t")

run_bf --table t --column public_id --until-done --batch-size 1000 --progress-interval 1
assert_eq "$RC" 0 "fill t: exit 0"
assert_sql "SELECT count(*) FROM t WHERE public_id IS NULL" 0 "fill t: no NULL left"
assert_sql "SELECT count(*) FROM t WHERE public_id !~ '$NB_DEFAULT_ID_RE'" 0 \
	"fill t: every value is 21 chars of the default alphabet"
assert_sql "SELECT count(*) - count(DISTINCT public_id) FROM t" 0 "fill t: no duplicate values"
assert_sql "SELECT state FROM $NB_JOBS WHERE table_name = 't'" 'done' "fill t: progress state is done"
assert_sql "SELECT rows_done FROM $NB_JOBS WHERE table_name = 't'" "$N" "fill t: progress rows_done = $N"
assert_sql "SELECT md5(string_agg(payload, ',' ORDER BY id)) FROM t" "$payload_before" \
	"fill t: payload unchanged"
assert_sql "SELECT finished_at IS NOT NULL FROM $NB_JOBS WHERE table_name = 't'" t \
	"fill t: finished_at is set"

# size, alphabet, prefix
psqlf <<SQL
CREATE TABLE t2 (id bigint PRIMARY KEY, public_id text);
INSERT INTO t2 SELECT i, NULL FROM generate_series(1, 5000) i;
ANALYZE t2;
SQL
# 3^30 ids: 5000 rows without a unique index stay below p(collision) 1e-6.
run_bf --table t2 --column public_id --until-done --size 30 --alphabet abc --prefix usr_
assert_eq "$RC" 0 "size/alphabet/prefix: exit 0"
assert_sql "SELECT count(*) FROM t2 WHERE public_id IS NULL" 0 "size/alphabet/prefix: no NULL left"
assert_sql "SELECT count(*) FROM t2 WHERE public_id !~ '^usr_[abc]{30}\$'" 0 \
	"size/alphabet/prefix: every value matches ^usr_[abc]{30}\$"
# With only 3 letters every letter must show up: the alphabet is really used.
assert_sql "SELECT count(DISTINCT substr(public_id, 5, 1)) FROM t2" 3 \
	"size/alphabet/prefix: all three letters are used"

# A target with a unique index and a tiny value space: values collide with
# rows filled earlier: a batch skips a row whose id is taken (the guard)
# or, racing, gets 23505 and retries with new ids.
psqlf <<SQL
CREATE TABLE t4 (id bigint PRIMARY KEY, public_id text UNIQUE);
INSERT INTO t4 SELECT i, NULL FROM generate_series(1, 1000) i;
ANALYZE t4;
SQL
run_bf --table t4 --column public_id --until-done --size 16 --alphabet ab --batch-size 10
assert_eq "$RC" 0 "unique collisions: exit 0"
assert_sql "SELECT count(*) FROM t4 WHERE public_id IS NULL OR public_id !~ '^[ab]{16}\$'" 0 \
	"unique collisions: every row filled from the alphabet"

# Running again over the complete table t writes nothing.
versions_before=$(table_versions t)
digest_before=$(table_digest t)
run_bf --table t --column public_id --until-done
assert_eq "$RC" 0 "complete table: second run exits 0"
assert_eq "$(table_versions t)" "$versions_before" "complete table: no row version changed"
assert_eq "$(table_digest t)" "$digest_before" "complete table: contents unchanged"
assert_sql "SELECT rows_done FROM $NB_JOBS WHERE table_name = 't'" "$N" \
	"complete table: rows_done still $N"

# A table complete before the daemon ever saw it.
psqlf <<SQL
CREATE TABLE t3 (id bigint PRIMARY KEY, public_id text);
INSERT INTO t3 SELECT i, 'given-' || i FROM generate_series(1, 3000) i;
ANALYZE t3;
SQL
versions_before=$(table_versions t3)
run_bf --table t3 --column public_id --until-done
assert_eq "$RC" 0 "already complete table: exit 0"
assert_eq "$(table_versions t3)" "$versions_before" "already complete table: no row version changed"
assert_sql "SELECT rows_done FROM $NB_JOBS WHERE table_name = 't3'" 0 \
	"already complete table: rows_done 0"
assert_sql "SELECT state FROM $NB_JOBS WHERE table_name = 't3'" 'done' \
	"already complete table: state done"


# Physical order's direct batches count the rows they fill from the
# server's count of row updates (no RETURNING) only where nothing else can
# update the table's rows and the server counts: an AFTER UPDATE trigger
# that writes another row of the same table, or track_counts off, keeps
# the form that counts with RETURNING, and the counts stay exact.
psqlf <<'SQL'
CREATE TABLE t5 (id bigint PRIMARY KEY, public_id text, touched int NOT NULL DEFAULT 0);
INSERT INTO t5 SELECT i, CASE WHEN i = 0 THEN 'sentinel' END, 0 FROM generate_series(0, 3000) i;
CREATE FUNCTION touch_sentinel() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN UPDATE t5 SET touched = touched + 1 WHERE id = 0; RETURN NULL; END $$;
CREATE TRIGGER touch_sentinel AFTER UPDATE ON t5 FOR EACH ROW
  WHEN (OLD.public_id IS NULL) EXECUTE FUNCTION touch_sentinel();
CREATE TABLE t6 (id bigint PRIMARY KEY, public_id text);
INSERT INTO t6 SELECT i, NULL FROM generate_series(1, 3000) i;
CREATE TABLE t7 (LIKE t6 INCLUDING ALL);
INSERT INTO t7 SELECT * FROM t6;
ANALYZE t5, t6, t7;
SQL
run_bf --table t5 --column public_id --until-done --order physical --log-level debug
assert_eq "$RC" 0 "AFTER UPDATE trigger: exit 0"
assert_sql "SELECT count(public_id), count(DISTINCT public_id), max(touched) FROM t5" "3001|3001|3000" \
	"AFTER UPDATE trigger: every row filled, the trigger ran once a row"
assert_file_match "$ERR" 'ms \(direct\)$' "AFTER UPDATE trigger: direct batches that count with RETURNING"
assert_file_nomatch "$ERR" 'counted\)' "AFTER UPDATE trigger: no counted batch"
assert_sql "SELECT rows_done FROM $NB_JOBS WHERE table_name = 't5'" 3000 \
	"AFTER UPDATE trigger: rows_done 3000, not the trigger's updates too"
PGOPTIONS="-c track_counts=off" run_bf --table t6 --column public_id --until-done --order physical \
	--log-level debug
assert_eq "$RC" 0 "track_counts off: exit 0"
assert_file_match "$ERR" 'ms \(direct\)$' "track_counts off: direct batches that count with RETURNING"
assert_file_nomatch "$ERR" 'counted\)' "track_counts off: no counted batch"
assert_sql "SELECT rows_done FROM $NB_JOBS WHERE table_name = 't6'" 3000 "track_counts off: rows_done 3000"
run_bf --table t7 --column public_id --until-done --order physical --log-level debug
assert_eq "$RC" 0 "plain table: exit 0"
assert_file_match "$ERR" 'ms \(direct, counted\)$' "plain table: counted direct batches"
assert_sql "SELECT count(public_id), count(DISTINCT public_id) FROM t7" "3000|3000" "plain table: every row, distinct"
assert_sql "SELECT rows_done FROM $NB_JOBS WHERE table_name = 't7'" 3000 "plain table: rows_done 3000"

finish
