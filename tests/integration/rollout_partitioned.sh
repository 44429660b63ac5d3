#!/usr/bin/env bash
# rollout_partitioned: plan, finalize and verify on declaratively partitioned
# tables, against a real server. Three trees, 3,000 rows each, the column
# filled by plain SQL (this test is about the schema steps, not the engine):
#
#   events    LIST (region) with a DEFAULT partition (in another schema) and
#             one partition sub-partitioned by HASH (id)
#   readings  RANGE (taken_on), each partition sub-partitioned by HASH (id)
#   tokens    RANGE (public_id) with a DEFAULT partition, one partition
#             sub-partitioned by HASH (public_id): partitioned by the column
#
# A unique index on a partitioned table must include the partition key, so
# public_id can be unique across the partitions of tokens only: there
# finalize builds one index over the tree (ON ONLY, concurrent builds per
# leaf, ATTACH) and it must end valid and attached at every level. On events
# and readings it builds a unique index per leaf, not attached, and fails on
# a value in two partitions, which verify counts as a duplicate too. The NOT
# NULL steps reach every partition. Rows stay as they were; a second
# finalize changes no catalog row. plan --dsn writes the per-partition files
# and, applied as sqlx applies them, gives the same end state as finalize.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

SQLX_NAME_RE='^[0-9]{14}_[a-z0-9_]+\.(up|down)\.sql$'
IDS=(--size 32 --alphabet 0123456789abcdef)   # what md5() gives

pg_start
psqlc "CREATE DATABASE viaplan" >/dev/null

# make_tables: the three trees, 3,000 rows each, public_id NULL everywhere;
# events and readings get public_id only later (as step 1 of a rollout does).
make_tables() {
	psqlf <<'SQL'
CREATE SCHEMA archive;
CREATE TABLE events (id bigint NOT NULL, region text NOT NULL, payload text)
  PARTITION BY LIST (region);
CREATE TABLE events_eu PARTITION OF events FOR VALUES IN ('eu');
CREATE TABLE events_am PARTITION OF events FOR VALUES IN ('us', 'ca')
  PARTITION BY HASH (id);
CREATE TABLE events_am_0 PARTITION OF events_am FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE events_am_1 PARTITION OF events_am FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE archive.events_other PARTITION OF events DEFAULT;
INSERT INTO events
  SELECT i, (ARRAY['eu', 'us', 'ca', 'jp', 'br'])[1 + i % 5], 'p' || i
    FROM generate_series(1, 3000) i;

CREATE TABLE readings (id bigint NOT NULL, taken_on date NOT NULL, value int)
  PARTITION BY RANGE (taken_on);
CREATE TABLE readings_2024 PARTITION OF readings
  FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY HASH (id);
CREATE TABLE readings_2024_0 PARTITION OF readings_2024 FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE readings_2024_1 PARTITION OF readings_2024 FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE readings_2025 PARTITION OF readings
  FOR VALUES FROM ('2025-01-01') TO ('2026-01-01') PARTITION BY HASH (id);
CREATE TABLE readings_2025_0 PARTITION OF readings_2025 FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE readings_2025_1 PARTITION OF readings_2025 FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO readings
  SELECT i, date '2024-01-01' + i % 730, i % 97 FROM generate_series(1, 3000) i;

-- NULL ids go to the DEFAULT partition until they are filled.
CREATE TABLE tokens (id bigint NOT NULL, public_id text) PARTITION BY RANGE (public_id);
CREATE TABLE tokens_lo PARTITION OF tokens FOR VALUES FROM (MINVALUE) TO ('8')
  PARTITION BY HASH (public_id);
CREATE TABLE tokens_lo_0 PARTITION OF tokens_lo FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE tokens_lo_1 PARTITION OF tokens_lo FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE tokens_hi PARTITION OF tokens FOR VALUES FROM ('8') TO (MAXVALUE);
CREATE TABLE tokens_def PARTITION OF tokens DEFAULT;
INSERT INTO tokens SELECT i, NULL FROM generate_series(1, 3000) i;
SQL
}

# fill TABLE: distinct ids by plain SQL (for tokens this moves every row
# out of the DEFAULT partition).
fill() {
	psqlc "UPDATE $1 SET public_id = md5(random()::text || id)" >/dev/null
}

# The relations of a tree, as an IN list for the queries below.
TREE="(SELECT relid FROM pg_partition_tree(%s))"
tree_of() { printf "$TREE" "'$1'::regclass"; }

# tree_fingerprint ROOT: every table of the tree by name: columns, NOT NULL,
# constraints, indexes (definition, valid, the index it is attached to).
tree_fingerprint() {
	local t
	t=$(tree_of "$1")
	psqlc "SELECT string_agg(x, E'\n' ORDER BY x) FROM (
	  SELECT 'col ' || a.attrelid::regclass || ' ' || a.attname || ' ' ||
	         format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull
	    FROM pg_attribute a WHERE a.attrelid IN $t AND a.attnum > 0 AND NOT a.attisdropped
	  UNION ALL
	  SELECT 'con ' || k.conrelid::regclass || ' ' || k.conname || ' ' ||
	         pg_get_constraintdef(k.oid) || ' valid=' || k.convalidated
	    FROM pg_constraint k WHERE k.conrelid IN $t
	  UNION ALL
	  SELECT 'idx ' || pg_get_indexdef(i.indexrelid) || ' valid=' || i.indisvalid ||
	         ' attached to ' || coalesce(h.inhparent::regclass::text, '-')
	    FROM pg_index i LEFT JOIN pg_inherits h ON h.inhrelid = i.indexrelid
	   WHERE i.indrelid IN $t) f(x)"
}

# tree_catalog_rows ROOT: the catalog rows of the tree, its indexes and
# constraints, with their row versions: any DDL changes one of them.
tree_catalog_rows() {
	local t
	t=$(tree_of "$1")
	psqlc "SELECT string_agg(x, E'\n' ORDER BY x) FROM (
	  SELECT 'class ' || c.oid || ' ' || c.relfilenode || ' ' || c.xmin FROM pg_class c
	   WHERE c.oid IN $t OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN $t)
	  UNION ALL
	  SELECT 'index ' || indexrelid || ' ' || xmin || ' ' || indisvalid FROM pg_index
	   WHERE indrelid IN $t
	  UNION ALL
	  SELECT 'inherits ' || inhrelid || ' ' || inhparent || ' ' || xmin FROM pg_inherits
	   WHERE inhrelid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN $t)
	  UNION ALL
	  SELECT 'constraint ' || oid || ' ' || xmin || ' ' || convalidated FROM pg_constraint
	   WHERE conrelid IN $t
	  UNION ALL
	  SELECT 'attribute ' || attrelid || ' ' || attname || ' ' || xmin || ' ' || attnotnull
	    FROM pg_attribute WHERE attrelid IN $t AND attnum > 0) f(x)"
}

# not_null_everywhere ROOT LABEL: public_id NOT NULL on every table of the
# tree (NRELS of them), no helper check left.
not_null_everywhere() {
	local t
	t=$(tree_of "$1")
	assert_sql "SELECT count(*) FILTER (WHERE attnotnull) || ' of ' || count(*)
	              FROM pg_attribute WHERE attrelid IN $t AND attname = 'public_id'" \
		"$3 of $3" "$2: public_id NOT NULL on all $3 tables of the tree"
	assert_sql "SELECT count(*) FROM pg_constraint WHERE conrelid IN $t AND contype = 'c'" 0 \
		"$2: no check constraint left on any partition"
}

# unique_per_leaf ROOT LABEL LEAVES: each leaf has exactly one index, ours by
# name, unique and valid on (public_id), attached to nothing; the partitioned
# tables have none.
unique_per_leaf() {
	local t
	t=$(tree_of "$1")
	assert_sql "SELECT count(*) FROM pg_class c
	             JOIN pg_index i ON i.indrelid = c.oid
	             JOIN pg_class ic ON ic.oid = i.indexrelid
	             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
	            WHERE c.oid IN $t AND c.relkind = 'r' AND i.indisunique AND i.indisvalid
	              AND i.indnatts = 1 AND a.attname = 'public_id'
	              AND ic.relname = c.relname || '_public_id_key'
	              AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)" \
		"$3" "$2: $3 leaves with a valid unique index of their own on public_id, not attached"
	assert_sql "SELECT count(*) FROM pg_index WHERE indrelid IN $t" "$3" \
		"$2: no other index in the tree"
}

# one_index_over ROOT LABEL NRELS: the root's index is valid, and every other
# table of the tree (NRELS - 1) has one valid unique index attached to its
# parent's index; nothing else.
one_index_over() {
	local t
	t=$(tree_of "$1")
	assert_sql "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = '${1}_public_id_key'::regclass
	              AND i.indrelid = '$1'::regclass AND i.indisunique" t \
		"$2: the index ${1}_public_id_key of the table is valid"
	assert_sql "SELECT count(*) FROM pg_partition_tree('$1') t
	             JOIN pg_class c ON c.oid = t.relid
	             JOIN pg_index i ON i.indrelid = t.relid
	             JOIN pg_class ic ON ic.oid = i.indexrelid
	             JOIN pg_inherits h ON h.inhrelid = i.indexrelid
	             JOIN pg_index pi ON pi.indexrelid = h.inhparent AND pi.indrelid = t.parentrelid
	            WHERE i.indisvalid AND i.indisunique AND pi.indisvalid
	              AND ic.relname = c.relname || '_public_id_key'" $(($3 - 1)) \
		"$2: all $(($3 - 1)) partitions' indexes valid and attached to their parent's"
	assert_sql "SELECT count(*) FROM pg_partition_tree('${1}_public_id_key')" "$3" \
		"$2: the index tree spans all $3 tables"
	assert_sql "SELECT count(*) FROM pg_index WHERE indrelid IN $t" "$3" \
		"$2: no other index in the tree"
}

err_lines() { grep -c "$NB_ERR_RE" "$ERR" || true; }

# line LABEL: the verify summary line "  LABEL: ..." of the last run, squeezed.
line() { grep -E "^  $1:" "$OUT" | tr -s ' ' | sed 's/^ //'; }

# ---------------------------------------------------------------------------
# finalize, in the default database
make_tables
psqlc "ALTER TABLE events ADD COLUMN public_id text; ALTER TABLE readings ADD COLUMN public_id text"
for t in events readings tokens; do fill $t; done
assert_sql "SELECT count(*) FROM tokens_def" 0 "tokens: filling moved every row out of the DEFAULT partition"
assert_sql "SELECT (SELECT count(*) FROM events_eu) > 0 AND (SELECT count(*) FROM archive.events_other) > 0
             AND (SELECT count(*) FROM events_am_1) > 0" t "events: rows in every kind of partition"

# A leftover of a failed concurrent build on one leaf: dropped and built again.
psqlc "UPDATE events SET public_id = 'twin' WHERE id IN (5, 10)" >/dev/null
if psql -X -q -c "CREATE UNIQUE INDEX CONCURRENTLY events_eu_public_id_key ON events_eu (public_id)" \
	>/dev/null 2>&1; then
	fail "the planted duplicate did not fail the index build"
fi
assert_sql "SELECT indisvalid FROM pg_index WHERE indexrelid = 'events_eu_public_id_key'::regclass" f \
	"setup: an invalid leftover index on events_eu"
psqlc "UPDATE events SET public_id = md5('again' || id) WHERE id IN (5, 10)" >/dev/null

# A partition's index name taken by something else: 78 before any DDL.
psqlc "CREATE INDEX readings_2025_1_public_id_key ON readings_2025_1 (taken_on)"
rows=$(tree_catalog_rows readings)
run_bf finalize --table readings --column public_id
assert_eq "$RC" 78 "readings, a partition's index name taken: exit 78"
assert_eq "$(grep -c '' "$ERR")" 1 "readings, name taken: one stderr line"
assert_file_match "$ERR" "$NB_ERR_RE\"public\".\"readings_2025_1_public_id_key\" already exists.*\"public\".\"readings_2025_1\"" \
	"readings, name taken: names the index and its partition"
assert_eq "$(tree_catalog_rows readings)" "$rows" "readings, name taken: nothing written"
psqlc "DROP INDEX readings_2025_1_public_id_key"

declare -A DATA NRELS LEAVES
NRELS=([events]=6 [readings]=7 [tokens]=6)
LEAVES=([events]=4 [readings]=4 [tokens]=4)
for t in events readings tokens; do DATA[$t]=$(table_digest $t); done

# --- events, readings: unique within each partition -------------------------
for t in events readings; do
	run_bf finalize --table $t --column public_id
	assert_eq "$RC" 0 "$t: finalize exit 0"
	assert_eq "$(err_lines)" 0 "$t: no error line"
	assert_file_match "$ERR" "warn: finalize: PostgreSQL cannot make \"public_id\" unique across the partitions of \"public\".\"$t\"" \
		"$t: says plainly that uniqueness across partitions cannot be enforced"
	assert_file_match "$ERR" "unique within each of its ${LEAVES[$t]} partitions \\(${LEAVES[$t]} indexes built by this run, 0 there already\\)" \
		"$t: one index built per partition"
	assert_file_match "$ERR" "finalize: done: \"public\".\"$t\".\"public_id\" is NOT NULL and unique within each partition" \
		"$t: the done line says what holds"
	not_null_everywhere $t "$t" "${NRELS[$t]}"
	unique_per_leaf $t "$t" "${LEAVES[$t]}"
	assert_eq "$(table_digest $t)" "${DATA[$t]}" "$t: finalize changed no row"
done
assert_file_match "$WORK/run2.err" 'dropping the invalid index "public"."events_eu_public_id_key" an earlier build left behind' \
	"events: the invalid leftover was dropped and built again"

# --- tokens: one index over the tree ----------------------------------------
# A duplicate first: a value and its twin land in one partition, so the
# build of that partition fails; nothing invalid stays, and the next run
# resumes the half-built tree.
dup=$(psqlc "UPDATE tokens SET public_id = (SELECT public_id FROM tokens WHERE id = 1) WHERE id = 2 RETURNING public_id")
run_bf finalize --table tokens --column public_id
assert_eq "$RC" 1 "tokens with a duplicate: finalize exit 1"
assert_eq "$(err_lines)" 1 "tokens with a duplicate: one error line"
assert_file_match "$ERR" "$NB_ERR_RE.*1 value occurs more than once: '$dup' \\(2 rows\\); no invalid index was left behind" \
	"tokens with a duplicate: names the value"
assert_sql "SELECT count(*) FROM pg_index WHERE indrelid IN $(tree_of tokens) AND NOT indisvalid
             AND indrelid <> ALL (ARRAY['tokens'::regclass, 'tokens_lo'::regclass])" 0 \
	"tokens with a duplicate: no invalid index on any leaf"
psqlc "UPDATE tokens SET public_id = md5('again' || id) WHERE id = 2" >/dev/null
DATA[tokens]=$(table_digest tokens)
run_bf finalize --table tokens --column public_id
assert_eq "$RC" 0 "tokens: finalize exit 0"
assert_eq "$(err_lines)" 0 "tokens: no error line"
assert_file_nomatch "$ERR" 'warn:' "tokens: no warning (unique across the whole table)"
assert_file_match "$ERR" 'unique \(index "public"."tokens_public_id_key" over 4 partitions' \
	"tokens: unique over every partition"
assert_file_match "$ERR" 'finalize: done: "public"."tokens"."public_id" is NOT NULL and unique$' "tokens: done"
not_null_everywhere tokens tokens "${NRELS[tokens]}"
one_index_over tokens tokens "${NRELS[tokens]}"
assert_eq "$(table_digest tokens)" "${DATA[tokens]}" "tokens: finalize changed no row"
# Unique across partitions for real: the server rejects a twin.
if psql -X -q -c "UPDATE tokens SET public_id = (SELECT public_id FROM tokens WHERE id = 1) WHERE id = 3" \
	>"$WORK/twin.out" 2>&1; then
	fail "tokens: a duplicate was accepted after finalize"
fi
assert_file_match "$WORK/twin.out" 'duplicate key value violates unique constraint' "tokens: the server rejects a duplicate"

# --- idempotent ----------------------------------------------------------------
for t in events readings tokens; do
	rows=$(tree_catalog_rows $t)
	run_bf finalize --table $t --column public_id
	assert_eq "$RC" 0 "$t: second finalize exit 0"
	assert_eq "$(tree_catalog_rows $t)" "$rows" "$t: second finalize changed no catalog row"
	assert_file_match "$ERR" 'already NOT NULL' "$t: second run says NOT NULL is done"
done
assert_file_match "$WORK/run$((RUN_N - 1)).err" 'unique within each of its 4 partitions \(0 indexes built by this run, 4 there already\)' \
	"readings: second run builds nothing"
assert_file_match "$ERR" 'already unique \(index tokens_public_id_key\)' "tokens: second run says UNIQUE is done"

# --- verify over the whole tree -----------------------------------------------
run_bf verify --table events --column public_id "${IDS[@]}"
assert_eq "$RC" 0 "events: verify clean"
assert_eq "$(head -n 1 "$OUT")" 'verify "public"."events"."public_id": 3000 rows' "events: verify reads all 3000 rows"
assert_eq "$(line partitions)" "partitions: 4" "events: verify counts the partitions"
assert_eq "$(line 'unique index')" "unique index: per partition only, on 4 of 4 (none across partitions)" \
	"events: verify says the indexes are per partition"
run_bf verify --table tokens --column public_id "${IDS[@]}"
assert_eq "$RC" 0 "tokens: verify clean"
assert_eq "$(line 'unique index')" "unique index: tokens_public_id_key" "tokens: verify names the index over the table"

# A value in two partitions of events: nothing in PostgreSQL stops it.
dup=$(psqlc "UPDATE events SET public_id = (SELECT public_id FROM events_eu ORDER BY id LIMIT 1)
              WHERE id = (SELECT id FROM archive.events_other ORDER BY id LIMIT 1) RETURNING public_id")
assert_sql "SELECT count(DISTINCT tableoid) FROM events WHERE public_id = '$dup'" 2 \
	"setup: one value in two partitions of events, accepted"
run_bf verify --table events --column public_id "${IDS[@]}"
assert_eq "$RC" 65 "value in two partitions: verify exit 65"
assert_eq "$(line duplicates)" "duplicates: 1 value (2 rows): '$dup' (2 rows)" \
	"value in two partitions: verify counts and names it"
assert_eq "$(tail -n 1 "$OUT")" "not clean: 0 NULL, 1 duplicate value, 0 malformed" \
	"value in two partitions: verify's last line"
rows=$(tree_catalog_rows events)
run_bf finalize --table events --column public_id
assert_eq "$RC" 1 "value in two partitions: finalize exit 1"
assert_eq "$(err_lines)" 1 "value in two partitions: one error line"
assert_file_match "$ERR" "${NB_ERR_RE}cannot make \"public\".\"events\".\"public_id\" unique across partitions: 1 value occurs in more than one partition: '$dup' \\(2 rows, in archive.events_other, events_eu\\)" \
	"value in two partitions: finalize names the value and both partitions"
assert_file_match "$ERR" 'PostgreSQL cannot enforce uniqueness across partitions' \
	"value in two partitions: finalize says why nothing stopped it"
assert_eq "$(tree_catalog_rows events)" "$rows" "value in two partitions: finalize changed no catalog row"
psqlc "UPDATE events SET public_id = md5('fixed' || id) WHERE public_id = '$dup' AND region <> 'eu'" >/dev/null
run_bf finalize --table events --column public_id
assert_eq "$RC" 0 "value in two partitions fixed: finalize exit 0"

# ---------------------------------------------------------------------------
# plan, in the database viaplan: the same tables, the files applied in order
export PGDATABASE=viaplan
make_tables
DSN="dbname=viaplan"

# Without --dsn: the steps of a plain table, and it says so.
run_bf plan --table events --column public_id --out "$WORK/nodsn"
assert_eq "$RC" 0 "plan without --dsn: exit 0"
assert_eq "$(wc -l <"$OUT")" 14 "plan without --dsn: the 14 files of a plain table"
assert_file_match "$ERR" 'info: plan: planned for a plain table, without reading the catalog; for a partitioned table plan with --dsn' \
	"plan without --dsn: says to pass --dsn for a partitioned table"
assert_file_match "$(ls "$WORK"/nodsn/*_unique_index_*.up.sql)" '^-- Planned without --dsn, for a plain table' \
	"plan without --dsn: the index file says so too"

declare -A NSTEPS
# the steps of a plain table (add, default, backfill, 3 NOT NULL), then the index steps
NSTEPS=([events]=$((6 + 4)) [readings]=$((6 + 4)) [tokens]=$((6 + 1 + 4 + 1)))
for t in events readings tokens; do
	run_bf plan --dsn "$DSN" --table $t --column public_id --out "$WORK/$t"
	assert_eq "$RC" 0 "plan --dsn $t: exit 0"
	assert_eq "$(wc -l <"$OUT")" $((2 * NSTEPS[$t])) "plan --dsn $t: $((2 * NSTEPS[$t])) files"
	bad=0
	for f in "$WORK/$t"/*; do
		[[ $(basename "$f") =~ $SQLX_NAME_RE ]] || { bad=1; echo "# bad name: $(basename "$f")"; }
	done
	assert_eq "$bad" 0 "plan --dsn $t: every file name matches sqlx's pattern"
	assert_eq "$(ls "$WORK/$t" | grep -v _on_only_ | grep -c '_unique_index_on_.*\.up\.sql$')" "${LEAVES[$t]}" \
		"plan --dsn $t: one index build per leaf partition"
	for f in "$WORK/$t"/*_unique_index_on_*.sql; do
		[[ $f == *_on_only_* ]] && continue
		[[ $(head -n 1 "$f") == '-- no-transaction' ]] || fail "$(basename "$f") does not start with -- no-transaction"
		[[ $(grep -v '^--' "$f" | grep -c ';$') == 1 ]] || fail "$(basename "$f") holds more than one statement"
	done
	pass "plan --dsn $t: each partition's file runs without a transaction and holds one statement"
done
assert_file_match "$WORK/run$((RUN_N - 2)).err" 'info: plan: "public"."events" is partitioned \(LIST \(region\), HASH \(id\); 4 partitions\): "public_id" is made unique within each partition only' \
	"plan --dsn events: says what the plan enforces"
assert_file_match "$ERR" 'info: plan: "public"."tokens" is partitioned by "public_id" alone' \
	"plan --dsn tokens: says the index spans the table"
assert_eq "$(ls "$WORK"/tokens | grep -c -e '_on_only_tokens\.up' -e '_attach_public_id_unique_indexes_on_tokens\.up')" 2 \
	"plan --dsn tokens: the ON ONLY step and the attach step"
assert_eq "$(ls "$WORK"/events "$WORK"/readings | grep -c -e _on_only_ -e _attach_)" 0 \
	"plan --dsn events, readings: no ON ONLY, no attach"

# apply_sqlx FILE: as sqlx runs a migration: the whole file as one query
# string, inside BEGIN/COMMIT unless it starts with "-- no-transaction".
apply_sqlx() {
	local sql
	sql=$(cat "$1")
	if [[ $(head -n 1 "$1") == '-- no-transaction' ]]; then
		psql -X -q -v ON_ERROR_STOP=1 -c "$sql" >"$WORK/apply.out" 2>&1
	else
		psql -X -q -v ON_ERROR_STOP=1 -c "BEGIN" -c "$sql" -c "COMMIT" >"$WORK/apply.out" 2>&1
	fi || fail "sqlx-style apply of $(basename "$1") failed: $(cat "$WORK/apply.out")"
}

for t in events readings tokens; do
	FP0=$(tree_fingerprint $t)
	for f in "$WORK/$t"/*.up.sql; do
		[[ $f == *_backfill_* ]] && fill $t
		apply_sqlx "$f"
	done
	assert_eq "$(tree_fingerprint $t)" "$(PGDATABASE=postgres tree_fingerprint $t)" \
		"plan --dsn $t applied: the same columns, constraints, indexes and attachments as finalize"
	run_bf verify --table $t --column public_id "${IDS[@]}"
	assert_eq "$RC" 0 "plan --dsn $t applied: verify clean"
	rows=$(tree_catalog_rows $t)
	run_bf finalize --table $t --column public_id
	assert_eq "$RC" 0 "plan --dsn $t applied: finalize exit 0"
	assert_eq "$(tree_catalog_rows $t)" "$rows" "plan --dsn $t applied: finalize finds nothing to do"

	# The downs in reverse order undo it all (tokens keeps its column:
	# it is the partition key, and that down says it fails).
	mapfile -t downs < <(ls -r "$WORK/$t"/*.down.sql)
	for f in "${downs[@]}"; do
		if [[ $t == tokens && $f == *_add_public_id_to_* ]]; then
			assert_file_match "$f" 'drops no column of a partition key' "tokens: the column's down says it fails"
			continue
		fi
		apply_sqlx "$f"
	done
	assert_eq "$(tree_fingerprint $t)" "$FP0" "plan --dsn $t: the downs in reverse restore the catalog"
done

# The planned guard: an INVALID partition index is never attached.
for f in "$WORK"/tokens/*.up.sql; do
	[[ $f == *_attach_* ]] && break
	[[ $f == *_backfill_* ]] && fill tokens
	[[ $f == *_on_tokens_hi.* ]] && continue
	apply_sqlx "$f"
done
psqlc "UPDATE tokens SET public_id = (SELECT public_id FROM tokens_hi ORDER BY id LIMIT 1)
        WHERE id = (SELECT id FROM tokens_hi ORDER BY id OFFSET 1 LIMIT 1)" >/dev/null
psql -X -q -c "$(cat "$WORK"/tokens/*_on_tokens_hi.up.sql)" >/dev/null 2>&1 &&
	fail "the build of tokens_hi succeeded despite a duplicate"
if psql -X -q -v ON_ERROR_STOP=1 -c BEGIN -c "$(cat "$WORK"/tokens/*_attach_*.up.sql)" -c COMMIT \
	>"$WORK/attach.out" 2>&1; then
	fail "the attach step ran with an INVALID partition index"
fi
assert_file_match "$WORK/attach.out" 'not attaching INVALID indexes .*tokens_hi_public_id_key' \
	"the attach step refuses an INVALID partition index, by name"
assert_sql "SELECT count(*) FROM pg_inherits WHERE inhparent = 'tokens_public_id_key'::regclass
             AND inhrelid <> 'tokens_lo_public_id_key'::regclass" 0 "and attached nothing"

finish
