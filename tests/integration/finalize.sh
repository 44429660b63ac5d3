#!/usr/bin/env bash
# finalize: `finalize` (and --finalize after an --until-done run) makes the
# filled column NOT NULL with a valid unique index: the same end state as the
# planned migration files. Run twice it changes nothing the second time. A
# planted duplicate fails cleanly (exit 1, the value named, no invalid index
# left); NULLs left fail cleanly too (no check left behind). Lock timeouts
# are retried with backoff (also during the concurrent index build, which
# leaves an invalid index to drop before each retry); SIGTERM cancels the
# build and leaves nothing. Steps done earlier by migration files are used.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

pg_start

# new_table NAME ROWS: id bigint PK, payload, public_id text (all NULL).
new_table() {
	psqlf <<SQL
CREATE TABLE $1 (id bigint PRIMARY KEY, payload text, public_id text);
INSERT INTO $1 SELECT i, 'p' || i, NULL FROM generate_series(1, $2) i;
ANALYZE $1;
SQL
}

# Columns, constraints and indexes of a table, by name (stable across databases).
fingerprint() {
	psqlc "SELECT string_agg(x, E'\n' ORDER BY x) FROM (
	  SELECT 'col ' || attnum || ' ' || attname || ' ' || format_type(atttypid, atttypmod) ||
	         ' notnull=' || attnotnull
	    FROM pg_attribute WHERE attrelid = '$1'::regclass AND attnum > 0 AND NOT attisdropped
	  UNION ALL
	  SELECT 'con ' || conname || ' ' || pg_get_constraintdef(oid) || ' valid=' || convalidated
	    FROM pg_constraint WHERE conrelid = '$1'::regclass
	  UNION ALL
	  SELECT 'idx ' || pg_get_indexdef(indexrelid) || ' valid=' || indisvalid
	    FROM pg_index WHERE indrelid = '$1'::regclass) f(x)"
}

# Every catalog row of the table, its indexes and constraints, with the
# row versions (xmin) and relfilenodes: any DDL changes some of them.
catalog_rows() {
	psqlc "SELECT string_agg(x, E'\n' ORDER BY x) FROM (
	  SELECT 'class ' || c.relname || ' ' || c.oid || ' ' || c.relfilenode || ' ' || c.xmin
	    FROM pg_class c WHERE c.oid = '$1'::regclass
	       OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = '$1'::regclass)
	  UNION ALL
	  SELECT 'index ' || indexrelid || ' ' || xmin || ' ' || indisvalid
	    FROM pg_index WHERE indrelid = '$1'::regclass
	  UNION ALL
	  SELECT 'constraint ' || conname || ' ' || xmin || ' ' || convalidated
	    FROM pg_constraint WHERE conrelid = '$1'::regclass
	  UNION ALL
	  SELECT 'attribute ' || attname || ' ' || xmin || ' ' || attnotnull
	    FROM pg_attribute WHERE attrelid = '$1'::regclass AND attnum > 0) f(x)"
}

# end_state TABLE LABEL: NOT NULL, one valid unique index TABLE_public_id_key,
# no helper check left, no invalid index anywhere.
end_state() {
	assert_sql "SELECT attnotnull FROM pg_attribute WHERE attrelid = '$1'::regclass
	             AND attname = 'public_id'" t "$2: column is NOT NULL"
	assert_sql "SELECT string_agg(indexrelid::regclass::text || ' ' || indisunique || ' ' || indisvalid, ',')
	             FROM pg_index WHERE indrelid = '$1'::regclass AND NOT indisprimary" \
		"${1}_public_id_key true true" "$2: valid unique index ${1}_public_id_key"
	assert_sql "SELECT count(*) FROM pg_constraint WHERE conrelid = '$1'::regclass AND contype = 'c'" 0 \
		"$2: no check constraint left"
	assert_sql "SELECT count(*) FROM pg_index WHERE NOT indisvalid" 0 "$2: no invalid index"
}

err_lines() { grep -c "$NB_ERR_RE" "$ERR" || true; }

# lock_holder SQL: runs SQL in a background psql; sets HOLDER.
lock_holder() {
	psql -X -q -v ON_ERROR_STOP=1 -c "$1" >/dev/null 2>&1 &
	HOLDER=$!
	BG_PIDS+=("$HOLDER")
}

# --- finalize after a finished backfill, then again -------------------------
new_table t1 50000
run_bf --table t1 --column public_id --until-done
assert_eq "$RC" 0 "t1: backfill exit 0"
data=$(table_digest t1)
run_bf finalize --table t1 --column public_id
assert_eq "$RC" 0 "t1: finalize exit 0"
end_state t1 "t1 finalized"
assert_eq "$(table_digest t1)" "$data" "t1: finalize changed no data"
assert_file_match "$ERR" 'added the check .*NOT VALID' "t1: log says the check was added NOT VALID"
assert_file_match "$ERR" 'concurrently' "t1: log says the index is built concurrently"
assert_eq "$(err_lines)" 0 "t1: no error line"

rows=$(catalog_rows t1)
run_bf finalize --table t1 --column public_id
assert_eq "$RC" 0 "t1: second finalize exit 0"
assert_eq "$(catalog_rows t1)" "$rows" "t1: second finalize changed no catalog row, no relfilenode"
assert_file_match "$ERR" 'already NOT NULL' "t1: second run says NOT NULL is done"
assert_file_match "$ERR" 'already unique' "t1: second run says UNIQUE is done"

# --- the same end state as the migration files -------------------------------
psqlc "CREATE DATABASE viaplan" >/dev/null
psqlc "CREATE DATABASE viafinalize" >/dev/null
for db in viaplan viafinalize; do PGDATABASE=$db new_table orders 20000; done
run_bf plan --table orders --column public_id --out "$WORK/mig"
assert_eq "$RC" 0 "plan: exit 0"
for f in "$WORK"/mig/*.up.sql; do
	if [[ $f == *_backfill_* ]]; then
		PGDATABASE=viaplan run_bf --table orders --column public_id --until-done
		assert_eq "$RC" 0 "viaplan: backfill exit 0"
	fi
	PGDATABASE=viaplan psql -X -q -v ON_ERROR_STOP=1 -f "$f" >/dev/null 2>&1 ||
		fail "viaplan: applying $(basename "$f") failed"
done
PGDATABASE=viafinalize run_bf --table orders --column public_id --until-done --finalize
assert_eq "$RC" 0 "viafinalize: --until-done --finalize exit 0"
assert_file_match "$ERR" 'finalize: done' "viafinalize: finalize ran after the backfill"
assert_eq "$(PGDATABASE=viafinalize fingerprint orders)" "$(PGDATABASE=viaplan fingerprint orders)" \
	"--finalize and the migration files give the same columns, constraints and indexes"
PGDATABASE=viafinalize end_state orders "viafinalize"

# --- --finalize needs --until-done --------------------------------------------
new_table t2 100
data=$(table_digest t2)
rows=$(catalog_rows t2)
run_bf --table t2 --column public_id --finalize
assert_eq "$RC" 64 "--finalize without --until-done: exit 64"
assert_eq "$(grep -c '' "$ERR")" 1 "--finalize without --until-done: one stderr line"
assert_file_match "$ERR" "$NB_ERR_RE.*--until-done" "--finalize without --until-done: says why"
assert_eq "$(table_digest t2)$(catalog_rows t2)" "$data$rows" "--finalize without --until-done: nothing written"

# --- planted duplicate ----------------------------------------------------------
new_table t3 5000
run_bf --table t3 --column public_id --until-done
dup=$(psqlc "UPDATE t3 SET public_id = (SELECT public_id FROM t3 WHERE id = 1) WHERE id = 4321 RETURNING public_id")
run_bf finalize --table t3 --column public_id
assert_eq "$RC" 1 "duplicate: finalize exit 1"
assert_eq "$(err_lines)" 1 "duplicate: one error line"
assert_file_match "$ERR" "$NB_ERR_RE.*'$dup' \\(2 rows\\)" "duplicate: the error names the value '$dup'"
assert_sql "SELECT count(*) FROM pg_index WHERE NOT indisvalid" 0 "duplicate: no invalid index left"
assert_sql "SELECT count(*) FROM pg_class WHERE relname = 't3_public_id_key'" 0 "duplicate: no index left at all"
psqlc "UPDATE t3 SET public_id = 'fixed-' || id WHERE id = 4321"
run_bf finalize --table t3 --column public_id
assert_eq "$RC" 0 "duplicate fixed: finalize exit 0"
end_state t3 "duplicate fixed"

# --- NULLs left -------------------------------------------------------------
new_table t4 2000
psqlc "UPDATE t4 SET public_id = 'x' || id WHERE id <= 1990"
rows=$(catalog_rows t4)
run_bf finalize --table t4 --column public_id
assert_eq "$RC" 1 "NULLs left: finalize exit 1"
assert_eq "$(err_lines)" 1 "NULLs left: one error line"
assert_file_match "$ERR" "$NB_ERR_RE.*NULL" "NULLs left: the error says NULL"
assert_sql "SELECT count(*) FROM pg_constraint WHERE conrelid = 't4'::regclass AND contype = 'c'" 0 \
	"NULLs left: the check added by the run is dropped again"
assert_sql "SELECT attnotnull FROM pg_attribute WHERE attrelid = 't4'::regclass AND attname = 'public_id'" f \
	"NULLs left: column still nullable"

# --- lock timeouts are retried ---------------------------------------------------
new_table t5 3000
run_bf --table t5 --column public_id --until-done
# A reader holds ACCESS SHARE for 3 s: ADD CONSTRAINT (ACCESS EXCLUSIVE) times out.
lock_holder "BEGIN; LOCK TABLE t5 IN ACCESS SHARE MODE; SELECT pg_sleep(3); COMMIT"
wait_for 10 "the reader holds its lock" sql_true \
	"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE relation = 't5'::regclass AND mode = 'AccessShareLock' AND granted)"
run_bf finalize --table t5 --column public_id --ddl-lock-timeout 200 --ddl-retries 30
assert_eq "$RC" 0 "lock held 3 s: finalize exit 0 after retries"
assert_file_match "$ERR" 'warn: .*lock timeout.*retry 1 of 30' "lock held 3 s: the retries are logged"
end_state t5 "lock held 3 s"
wait_exit "$HOLDER" 10

# An old snapshot makes CREATE INDEX CONCURRENTLY wait; its lock_timeout
# leaves an invalid index that must be dropped before the retry.
new_table t6 3000
run_bf --table t6 --column public_id --until-done
lock_holder "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM t1; SELECT pg_sleep(4); COMMIT"
wait_for 10 "the old snapshot is taken" sql_true \
	"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(4)%' AND backend_xmin IS NOT NULL AND pid <> pg_backend_pid())"
run_bf finalize --table t6 --column public_id --no-not-null --ddl-lock-timeout 300 --ddl-retries 30
assert_eq "$RC" 0 "old snapshot: finalize exit 0 after retries"
assert_file_match "$ERR" 'warn: building the unique index: .*retry' "old snapshot: the index build was retried"
assert_sql "SELECT count(*) FROM pg_index WHERE NOT indisvalid" 0 "old snapshot: no invalid index left"
assert_sql "SELECT indisvalid FROM pg_index WHERE indexrelid = 't6_public_id_key'::regclass" t \
	"old snapshot: the index is valid"
wait_exit "$HOLDER" 10

# Retries run out: exit 1, one line, nothing of the run left behind.
new_table t7 1000
run_bf --table t7 --column public_id --until-done
lock_holder "BEGIN; LOCK TABLE t7 IN ACCESS SHARE MODE; SELECT pg_sleep(60); COMMIT"
wait_for 10 "the reader holds its lock" sql_true \
	"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE relation = 't7'::regclass AND mode = 'AccessShareLock' AND granted)"
rows=$(catalog_rows t7)
run_bf finalize --table t7 --column public_id --ddl-lock-timeout 100 --ddl-retries 2
assert_eq "$RC" 1 "lock never granted: finalize exit 1"
assert_eq "$(err_lines)" 1 "lock never granted: one error line"
assert_file_match "$ERR" "$NB_ERR_RE.*lock.*--ddl-lock-timeout" "lock never granted: says so and what to raise"
assert_eq "$(grep -c 'warn: .*retry' "$ERR")" 2 "lock never granted: two retries"
assert_eq "$(catalog_rows t7)" "$rows" "lock never granted: catalog unchanged"
psqlc "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()" >/dev/null
wait_exit "$HOLDER" 10 || true

# SIGTERM while the index build waits: cancelled, nothing left, exit 1.
new_table t8 1000
run_bf --table t8 --column public_id --until-done
lock_holder "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM t1; SELECT pg_sleep(60); COMMIT"
wait_for 10 "the old snapshot is taken" sql_true \
	"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND backend_xmin IS NOT NULL AND pid <> pg_backend_pid())"
bg_bf finalize --table t8 --column public_id --no-not-null --ddl-lock-timeout 600000
wait_for 20 "the index build waits" sql_true \
	"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE 'CREATE UNIQUE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock')"
kill_bf TERM "$BF_PID"
assert_eq "$RC" 1 "SIGTERM during the index build: exit 1"
assert_file_match "$ERR" "$NB_ERR_RE.*signal" "SIGTERM: the error says it was stopped"
assert_sql "SELECT count(*) FROM pg_index WHERE NOT indisvalid" 0 "SIGTERM: no invalid index left"
assert_sql "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'CREATE UNIQUE INDEX%'" 0 \
	"SIGTERM: the build is not running on the server"
psqlc "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()" >/dev/null
wait_exit "$HOLDER" 10 || true

# --- steps done by migration files are used, not redone --------------------------
new_table t9 2000
run_bf plan --table t9 --column public_id --out "$WORK/t9"
for f in "$WORK"/t9/*.up.sql; do
	case $f in
	*_set_public_id_not_null_*) break ;;
	*_backfill_*) run_bf --table t9 --column public_id --until-done ;;
	esac
	psql -X -q -v ON_ERROR_STOP=1 -f "$f" >/dev/null 2>&1 || fail "t9: applying $(basename "$f")"
done
assert_sql "SELECT convalidated FROM pg_constraint WHERE conname = 't9_public_id_not_null_check'" t \
	"t9: steps 1-4 applied, the check is validated"
run_bf finalize --table t9 --column public_id
assert_eq "$RC" 0 "t9: finalize exit 0"
assert_file_nomatch "$ERR" 'validating' "t9: the validated check is not validated again"
end_state t9 "t9"

# A unique constraint the table already has counts.
psqlf <<'SQL'
CREATE TABLE t10 (id int PRIMARY KEY, public_id text NOT NULL CONSTRAINT t10_ids UNIQUE);
INSERT INTO t10 VALUES (1, 'a'), (2, 'b');
SQL
rows=$(catalog_rows t10)
run_bf finalize --table t10 --column public_id
assert_eq "$RC" 0 "existing UNIQUE: finalize exit 0"
assert_file_match "$ERR" 'already unique \(index t10_ids\)' "existing UNIQUE: used"
assert_eq "$(catalog_rows t10)" "$rows" "existing UNIQUE: nothing changed"

# --- bad targets: 78, one line, nothing written ----------------------------------
bad_case() {
	local name=$1 table=$2 phrase=$3 before
	shift 3
	before=$(catalog_rows "$table" 2>/dev/null || true)
	run_bf finalize "$@"
	assert_eq "$RC" 78 "$name: exit 78"
	assert_eq "$(grep -c '' "$ERR")" 1 "$name: one stderr line"
	assert_file_match "$ERR" "$NB_ERR_RE.*$phrase" "$name: says /$phrase/"
	assert_eq "$(catalog_rows "$table" 2>/dev/null || true)" "$before" "$name: nothing written"
}
bad_case "missing table" t1 'does not exist' --table nope --column public_id
bad_case "missing column" t1 'does not exist' --table t1 --column nope
new_table t11 10
psqlc "UPDATE t11 SET public_id = 'v' || id; CREATE INDEX t11_public_id_key ON t11 (public_id)"
bad_case "index name taken" t11 'already exists' --table t11 --column public_id --no-not-null
psqlc "ALTER TABLE t11 ADD CONSTRAINT t11_public_id_not_null_check CHECK (length(public_id) > 0)"
bad_case "check name taken" t11 'already exists' --table t11 --column public_id --no-unique
# Found before any step: the NOT NULL steps do not run when the index name is taken.
new_table t12 10
psqlc "UPDATE t12 SET public_id = 'v' || id; CREATE INDEX t12_public_id_key ON t12 (public_id)"
bad_case "index name taken, all steps" t12 'already exists' --table t12 --column public_id
assert_sql "SELECT count(*) FROM pg_constraint WHERE conrelid = 't12'::regclass AND contype = 'c'" 0 \
	"index name taken, all steps: no check added"
# A name taken does not matter when the step is done under another name.
psqlc "CREATE UNIQUE INDEX t12_other ON t12 (public_id)"
run_bf finalize --table t12 --column public_id
assert_eq "$RC" 0 "index name taken but the column has a unique index: exit 0"
assert_file_match "$ERR" 'already unique \(index t12_other\)' "index name taken but unique: the other index is used"

# --finalize after a backfill stopped by SIGTERM: not finalized, exit 0.
new_table t13 300000
bg_bf --table t13 --column public_id --until-done --finalize --batch-size 100
wait_for 30 "some rows are filled" sql_true "SELECT EXISTS (SELECT 1 FROM t13 WHERE public_id IS NOT NULL)"
kill_bf TERM "$BF_PID"
assert_eq "$RC" 0 "--finalize, backfill stopped by SIGTERM: exit 0"
assert_file_match "$ERR" 'not finalizing' "--finalize, backfill stopped: says it does not finalize"
assert_sql "SELECT count(*) FROM pg_constraint WHERE conrelid = 't13'::regclass AND contype = 'c'" 0 \
	"--finalize, backfill stopped: no check added"
assert_sql "SELECT count(*) FROM pg_index WHERE indrelid = 't13'::regclass AND NOT indisprimary" 0 \
	"--finalize, backfill stopped: no index built"

finish
