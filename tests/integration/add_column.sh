#!/usr/bin/env bash
# add_column: --add-column creates the missing column (text, nullable) with a
# short lock_timeout, retried while a reader holds the table, then the
# backfill fills it; with a column already there it changes nothing; a
# target the backfill would refuse gets no column either (exit 78, one line).
# --add-column --finalize --until-done runs the whole rollout in one command.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

pg_start

psqlf <<'SQL'
CREATE TABLE t (id bigint PRIMARY KEY, payload text);
INSERT INTO t SELECT i, 'p' || i FROM generate_series(1, 20000) i;
ANALYZE t;
SQL
payload=$(psqlc "SELECT md5(string_agg(payload, ',' ORDER BY id)) FROM t")

# attribute rows of a table with their row versions: changes with any DDL
# on its columns.
attributes() {
	psqlc "SELECT string_agg(attname || ':' || atttypid::regtype || ':' || attnotnull || ':' || xmin, ',' ORDER BY attnum)
	         FROM pg_attribute WHERE attrelid = '$1'::regclass AND attnum > 0 AND NOT attisdropped"
}

run_bf --table t --column public_id --add-column --until-done
assert_eq "$RC" 0 "--add-column: exit 0"
assert_file_match "$ERR" 'add-column: added "public"."t"."public_id"' "--add-column: says it added the column"
assert_sql "SELECT format_type(atttypid, atttypmod) || ' ' || attnotnull FROM pg_attribute
             WHERE attrelid = 't'::regclass AND attname = 'public_id'" 'text false' \
	"--add-column: the column is text, nullable"
assert_sql "SELECT count(*) FROM t WHERE public_id IS NULL" 0 "--add-column: then filled"
assert_sql "SELECT count(*) FROM t WHERE public_id !~ '$NB_DEFAULT_ID_RE'" 0 "--add-column: with nanoids"
assert_sql "SELECT md5(string_agg(payload, ',' ORDER BY id)) FROM t" "$payload" "--add-column: payload unchanged"

# Again: the column is there, nothing changes.
attrs=$(attributes t)
run_bf --table t --column public_id --add-column --until-done
assert_eq "$RC" 0 "--add-column again: exit 0"
assert_file_match "$ERR" 'exists already' "--add-column again: says the column exists"
assert_eq "$(attributes t)" "$attrs" "--add-column again: no column changed"

# A reader holds the table for 2 s: ADD COLUMN's lock times out, is retried.
psqlc "CREATE TABLE t2 (id int PRIMARY KEY); INSERT INTO t2 SELECT generate_series(1, 3000)"
psql -X -q -c "BEGIN; LOCK TABLE t2 IN ACCESS SHARE MODE; SELECT pg_sleep(2); COMMIT" >/dev/null 2>&1 &
holder=$!
BG_PIDS+=("$holder")
wait_for 10 "the reader holds its lock" sql_true \
	"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE relation = 't2'::regclass AND granted AND mode = 'AccessShareLock')"
run_bf --table t2 --column public_id --add-column --until-done --ddl-lock-timeout 100 --ddl-retries 40
assert_eq "$RC" 0 "--add-column behind a reader: exit 0"
assert_file_match "$ERR" 'warn: adding the column: .*lock timeout.*retry 1 of 40' "--add-column behind a reader: retried"
assert_sql "SELECT count(*) FROM t2 WHERE public_id IS NULL" 0 "--add-column behind a reader: filled"
wait_exit "$holder" 10

# Retries run out: exit 1, one error line, no column.
psqlc "CREATE TABLE t3 (id int PRIMARY KEY); INSERT INTO t3 VALUES (1)"
psql -X -q -c "BEGIN; LOCK TABLE t3 IN ACCESS SHARE MODE; SELECT pg_sleep(60); COMMIT" >/dev/null 2>&1 &
holder=$!
BG_PIDS+=("$holder")
wait_for 10 "the reader holds its lock" sql_true \
	"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE relation = 't3'::regclass AND granted AND mode = 'AccessShareLock')"
attrs=$(attributes t3)
run_bf --table t3 --column public_id --add-column --until-done --ddl-lock-timeout 100 --ddl-retries 1
assert_eq "$RC" 1 "--add-column, lock never granted: exit 1"
assert_eq "$(grep -c "$NB_ERR_RE" "$ERR")" 1 "--add-column, lock never granted: one error line"
assert_file_match "$ERR" "$NB_ERR_RE.*adding the column.*lock" "--add-column, lock never granted: says so"
assert_eq "$(attributes t3)" "$attrs" "--add-column, lock never granted: no column"
psqlc "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()" >/dev/null
wait_exit "$holder" 10 || true

# Targets the backfill refuses: the column is not added, exit 78, one line.
psqlf <<'SQL'
CREATE TABLE nopk (id int, payload text);
INSERT INTO nopk VALUES (1, 'a');
CREATE TABLE keyed (id int PRIMARY KEY, n int);
SQL
refused() {
	local name=$1 table=$2 phrase=$3 attrs
	shift 3
	attrs=$(attributes "$table" 2>/dev/null || true)
	run_bf --table "$table" --column public_id --add-column --until-done "$@"
	assert_eq "$RC" 78 "$name: exit 78"
	assert_eq "$(grep -c '' "$ERR")" 1 "$name: one stderr line"
	assert_file_match "$ERR" "$NB_ERR_RE.*$phrase" "$name: says /$phrase/"
	assert_eq "$(attributes "$table" 2>/dev/null || true)" "$attrs" "$name: no column added"
}
refused "no primary key, --order key" nopk 'primary key' --order key
refused "--key on a nullable column" keyed 'nullable' --key n
refused "missing table" nope 'does not exist'
refused "--key column missing" keyed 'does not exist' --key nope

# The whole rollout in one command.
psqlf <<'SQL'
CREATE TABLE whole (id bigint PRIMARY KEY, payload text);
INSERT INTO whole SELECT i, 'p' || i FROM generate_series(1, 10000) i;
SQL
run_bf --table whole --column public_id --add-column --until-done --finalize --prefix w_
assert_eq "$RC" 0 "--add-column --until-done --finalize: exit 0"
assert_sql "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'whole'::regclass AND attname = 'public_id'" t \
	"whole rollout: NOT NULL"
assert_sql "SELECT indisunique AND indisvalid FROM pg_index WHERE indexrelid = 'whole_public_id_key'::regclass" t \
	"whole rollout: valid unique index"
run_bf verify --table whole --column public_id --prefix w_
assert_eq "$RC" 0 "whole rollout: verify clean"

finish
