#!/usr/bin/env bash
# rollout_plan: `plan` writes the rollout as sqlx migration files. Applied in
# order with psql (ups), with the backfill run as the backfill step's comment says, they
# leave the column NOT NULL with a valid unique index; the downs in reverse
# restore the original table (catalog fingerprint and data). File names match
# sqlx's pattern; the concurrent-index files start with "-- no-transaction",
# hold one statement and really need to run outside a transaction. Hostile
# names are quoted everywhere. Also applied the way sqlx does (each file one
# query string), with --no-unique / --no-not-null, and bad --out values.
# Step 2 and the log give the format's id space (p(collision) at 1e9 ids,
# and with --dsn at the table's rows, with the birthday bound's warning).
# --null-index: the partial index WHERE column IS NULL is there (valid) from
# its step on, the service's probe reads it instead of the table, the last
# step drops it, and the downs undo both; on the column alone, on --key's
# columns, and with --dsn one per leaf partition of a partitioned table.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

SQLX_NAME_RE='^[0-9]{14}_[a-z0-9_]+\.(up|down)\.sql$'

pg_start

# `nanoid-backfill` on PATH, as the command in the backfill step's comment calls it.
mkdir -p "$WORK/bin"
ln -s "$NB" "$WORK/bin/nanoid-backfill"
export PATH="$WORK/bin:$PATH"
export DATABASE_URL=       # empty --dsn: libpq's PG* environment (lib.sh's cluster)

# psqlv VAR=VALUE... : SQL on stdin, with psql variables (:'var' is a literal,
# :"var" an identifier), so hostile names never pass through the shell.
psqlv() {
	local args=() kv
	for kv in "$@"; do args+=(-v "$kv"); done
	psql -X -v ON_ERROR_STOP=1 -qAt "${args[@]}" -f -
}

# Columns, constraints and indexes of a table (by oid), one line each.
fingerprint() {
	psqlc "SELECT string_agg(x, E'\n' ORDER BY x) FROM (
	  SELECT 'col ' || a.attnum || ' ' || quote_ident(a.attname) || ' ' ||
	         format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull ||
	         ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
	    FROM pg_attribute a LEFT JOIN pg_attrdef d
	         ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	   WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
	  UNION ALL
	  SELECT 'con ' || quote_ident(conname) || ' ' || contype::text || ' ' ||
	         pg_get_constraintdef(oid) || ' valid=' || convalidated
	    FROM pg_constraint WHERE conrelid = $1
	  UNION ALL
	  SELECT 'idx ' || pg_get_indexdef(indexrelid) || ' valid=' || indisvalid
	    FROM pg_index WHERE indrelid = $1) f(x)"
}

# apply_psql FILE: psql -f, as a person would (psql sends statement by
# statement, no BEGIN).
apply_psql() {
	psql -X -q -v ON_ERROR_STOP=1 -f "$1" >"$WORK/apply.out" 2>&1 ||
		fail "psql -f $(basename "$1") failed: $(cat "$WORK/apply.out")"
}

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

# check_files DIR STEPS: names, pairs, versions strictly increasing.
check_files() {
	local dir=$1 steps=$2 f prev= v n=0 bad=0
	assert_eq "$(find "$dir" -type f | wc -l)" $((2 * steps)) "$dir: $((2 * steps)) files"
	for f in "$dir"/*; do
		[[ $(basename "$f") =~ $SQLX_NAME_RE ]] || { bad=1; echo "# bad name: $(basename "$f")"; }
	done
	assert_eq "$bad" 0 "every file name matches sqlx's $SQLX_NAME_RE"
	for f in "$dir"/*.up.sql; do
		v=$(basename "$f")
		v=${v%%_*}
		[[ -f ${f%.up.sql}.down.sql ]] || fail "no down file for $(basename "$f")"
		if [[ -n $prev ]] && ! ((v > prev)); then
			fail "version $v does not follow $prev"
		fi
		prev=$v
		n=$((n + 1))
	done
	assert_eq "$n" "$steps" "$steps up files, each with its down, versions strictly increasing"
}

# The no-transaction files: marker on line 1, one statement, and the up really
# cannot run inside a transaction (so the marker is needed).
check_no_transaction() {
	local dir=$1 f
	for f in "$dir"/*unique_index*.sql; do
		assert_eq "$(head -n 1 "$f")" '-- no-transaction' "$(basename "$f") starts with -- no-transaction"
		assert_eq "$(grep -v '^--' "$f" | grep -c ';$')" 1 "$(basename "$f") holds one statement"
	done
	f=$(ls "$dir"/*unique_index*.up.sql)
	if psql -X -q -v ON_ERROR_STOP=1 -1 -f "$f" >"$WORK/tx.out" 2>&1; then
		fail "the concurrent index build ran inside a transaction"
	fi
	assert_file_match "$WORK/tx.out" 'cannot run inside a transaction block' \
		"inside a transaction the index build is refused"
	assert_sql "SELECT count(*) FROM pg_index WHERE NOT indisvalid" 0 "and leaves no invalid index"
}

# ---------------------------------------------------------------------------
# A: hostile names, applied with psql -f; the backfill runs from the backfill step's comment.
S='My "Schema"'
T=$'Order "Items"\n; DROP TABLE victim; --'
C='Public Id'
psqlv s="$S" t="$T" <<'SQL'
CREATE TABLE victim (x int);
CREATE SCHEMA :"s";
CREATE TABLE :"s".:"t" (id bigint PRIMARY KEY, payload text NOT NULL DEFAULT 'p',
                        CHECK (payload <> ''));
CREATE INDEX ON :"s".:"t" (payload);
INSERT INTO :"s".:"t" SELECT i, 'payload-' || i FROM generate_series(1, 20000) i;
ANALYZE :"s".:"t";
SQL
QT=$(psqlv s="$S" t="$T" <<<"SELECT format('%I.%I', :'s', :'t')")
OID=$(psqlc "SELECT '$QT'::regclass::oid")
FP0=$(fingerprint "$OID")
DATA0=$(table_digest "$QT")

run_bf plan --schema "$S" --table "$T" --column "$C" --out "$WORK/a"
assert_eq "$RC" 0 "plan A: exit 0"
assert_eq "$(wc -l <"$OUT")" 14 "plan A: prints the 14 paths it wrote"
check_files "$WORK/a" 7
check_no_transaction "$WORK/a"
assert_file_match "$(ls "$WORK"/a/*_add_public_id_to_*.down.sql)" \
	'^-- WARNING: THIS DOWN LOSES DATA' "the column's down says it loses data"
for f in "$WORK"/a/*.down.sql; do
	case $f in *_add_public_id_to_*) continue ;; esac
	assert_file_nomatch "$f" 'loses data' "$(basename "$f") loses no data and says nothing of it"
done
for f in "$WORK"/a/*.sql; do
	# Every SQL line that takes a table lock is preceded by SET lock_timeout.
	if grep -Eq '^(ALTER|DROP CONSTRAINT)' "$f"; then
		assert_file_match "$f" "^SET lock_timeout = '[0-9]+ms';" "$(basename "$f") sets lock_timeout"
	fi
done
# In comments a name's newline is shown as \x0a, so it cannot end the comment
# and turn the rest of the name into SQL.
assert_file_match "$(ls "$WORK"/a/*backfill*.up.sql)" '^-- Target: .*\\x0a; DROP TABLE victim' \
	"hostile name: newline escaped in comments"

for f in "$WORK"/a/*.up.sql; do
	if [[ $f == *_backfill_* ]]; then
		cmd=$(sed -n 's/^--   \(nanoid-backfill --dsn .*\)$/\1/p' "$f")
		assert_match "$cmd" '--until-done$' "the backfill step's comment has the backfill command"
		_next_run
		RC=0
		(eval "$cmd") >"$OUT" 2>"$ERR" || RC=$?
		assert_eq "$RC" 0 "the backfill command from the backfill step's comment: exit 0"
	fi
	apply_psql "$f"
done
assert_sql "SELECT count(*) FROM victim" 0 "victim table still there"
assert_sql "SELECT attnotnull FROM pg_attribute WHERE attrelid = $OID AND attname = '$C'" t \
	"A after the ups: column is NOT NULL"
assert_sql "SELECT count(*) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid
             AND a.attnum = i.indkey[0] WHERE i.indrelid = $OID AND a.attname = '$C'
             AND i.indisunique AND i.indisvalid AND i.indnatts = 1" 1 \
	"A after the ups: one valid unique index on the column"
assert_sql "SELECT count(*) FROM pg_constraint WHERE conrelid = $OID AND contype = 'c'
             AND conname LIKE '%not_null_check'" 0 "A after the ups: the helper check is gone"
assert_sql "SELECT count(*) FROM $QT WHERE \"$C\" !~ '$NB_DEFAULT_ID_RE'" 0 \
	"A after the ups: every row has a default nanoid"
run_bf verify --schema "$S" --table "$T" --column "$C"
assert_eq "$RC" 0 "A after the ups: verify is clean"

mapfile -t downs < <(ls -r "$WORK"/a/*.down.sql)
for f in "${downs[@]}"; do apply_psql "$f"; done
assert_eq "$(fingerprint "$OID")" "$FP0" "A after the downs in reverse: columns, constraints, indexes as before"
assert_eq "$(table_digest "$QT")" "$DATA0" "A after the downs in reverse: data as before"

# ---------------------------------------------------------------------------
# B: plain names, applied as sqlx applies them (one query string per file,
# in a transaction unless marked), with the binary's backfill between.
psqlf <<'SQL'
CREATE TABLE orders (id bigint PRIMARY KEY, total numeric NOT NULL);
INSERT INTO orders SELECT i, i * 1.5 FROM generate_series(1, 30000) i;
ANALYZE orders;
SQL
OID=$(psqlc "SELECT 'orders'::regclass::oid")
FP0=$(fingerprint "$OID")
DATA0=$(table_digest orders)
run_bf plan --table orders --column public_id --out "$WORK/b" --size 12 --prefix ord_ --ddl-lock-timeout 1500
assert_eq "$RC" 0 "plan B: exit 0"
check_files "$WORK/b" 7
assert_file_match "$(ls "$WORK"/b/*backfill*.up.sql)" "--size 12 --prefix 'ord_' --until-done" \
	"size and prefix appear in the backfill command"
assert_file_match "$(ls "$WORK"/b/*backfill*.up.sql)" \
	'^-- Id space: 12 symbols of 64 \(10\^21\.7 distinct ids\); 1e\+09 ids: p\(collision\) ~ 0\.00011\.$' \
	"the backfill step gives the id space of --size 12"
assert_file_match "$ERR" 'info: plan: ids: 12 symbols of 64 \(10\^21\.7 distinct ids\); 1e\+09 ids: p\(collision\) ~ 0\.00011$' \
	"plan logs the id space"
# With --dsn, the table's 30,000 rows too: 64^3 ids would likely repeat.
run_bf plan --dsn "dbname=$PGDATABASE" --table orders --column public_id --out "$WORK/b3" --size 3
assert_eq "$RC" 0 "plan --dsn --size 3: exit 0 (the plan warns; --check-config refuses)"
assert_file_match "$(ls "$WORK"/b3/*backfill*.up.sql)" \
	'^-- Id space: 3 symbols of 64 \(262,144 distinct ids\); 1e\+09 ids: p\(collision\) = 1; for the table.s rows, 30,000 ids: p\(collision\) ~ 1\.$' \
	"plan --dsn: p(collision) at the table's rows"
assert_file_match "$(ls "$WORK"/b3/*backfill*.up.sql)" \
	'^-- Warning: duplicates are likely: p\(collision\) ~ 1 over 30,000 rows with 262,144 distinct ids .*--allow-duplicates\.$' \
	"plan --dsn --size 3: the backfill step warns"
assert_file_match "$ERR" 'warn: plan: duplicates are likely: p\(collision\) ~ 1 over 30,000 rows' \
	"plan --dsn --size 3: the log warns"
assert_file_match "$(ls "$WORK"/b/*add_public_id_to_orders.up.sql)" "SET lock_timeout = '1500ms'" \
	"--ddl-lock-timeout sets the files' lock_timeout"
for f in "$WORK"/b/*.up.sql; do
	if [[ $f == *_backfill_* ]]; then
		run_bf --table orders --column public_id --size 12 --prefix ord_ --until-done
		assert_eq "$RC" 0 "B: backfill exit 0"
	fi
	apply_sqlx "$f"
done
assert_sql "SELECT attnotnull FROM pg_attribute WHERE attrelid = $OID AND attname = 'public_id'" t \
	"B after the ups: NOT NULL"
assert_sql "SELECT indexrelid::regclass::text || ' ' || indisvalid || ' ' || indisunique
             FROM pg_index WHERE indrelid = $OID AND NOT indisprimary" 'orders_public_id_key true true' \
	"B after the ups: valid unique index orders_public_id_key"
assert_sql "SELECT count(*) FROM orders WHERE public_id !~ '^ord_[A-Za-z0-9_-]{12}\$'" 0 \
	"B after the ups: ids as configured"
mapfile -t downs < <(ls -r "$WORK"/b/*.down.sql)
for f in "${downs[@]}"; do apply_sqlx "$f"; done
assert_eq "$(fingerprint "$OID")" "$FP0" "B after the downs: catalog as before"
assert_eq "$(table_digest orders)" "$DATA0" "B after the downs: data as before"

# Step 5's down then up again (re-validates the check first) works as well.
for f in "$WORK"/b/*.up.sql; do
	# The job remembers its format: the same flags again.
	[[ $f == *_backfill_* ]] && run_bf --table orders --column public_id --size 12 \
		--prefix ord_ --until-done
	apply_sqlx "$f"
done
f5=$(ls "$WORK"/b/*_set_public_id_not_null_on_orders.up.sql)
f5=${f5%.up.sql}
apply_sqlx "$f5.down.sql"
assert_sql "SELECT attnotnull FROM pg_attribute WHERE attrelid = $OID AND attname = 'public_id'" f \
	"B: step 5's down allows NULL again"
apply_sqlx "$f5.up.sql"
assert_sql "SELECT attnotnull FROM pg_attribute WHERE attrelid = $OID AND attname = 'public_id'" t \
	"B: step 5's up applies again after its down"

# ---------------------------------------------------------------------------
# --no-unique, --no-not-null
psqlf <<'SQL'
CREATE TABLE nu (id int PRIMARY KEY); INSERT INTO nu SELECT generate_series(1, 500);
CREATE TABLE nn (id int PRIMARY KEY); INSERT INTO nn SELECT generate_series(1, 500);
SQL
run_bf plan --table nu --column c --out "$WORK/nu" --no-unique
assert_eq "$RC" 0 "plan --no-unique: exit 0"
check_files "$WORK/nu" 6
assert_eq "$(ls "$WORK"/nu | grep -c unique_index || true)" 0 "--no-unique: no index step"
run_bf plan --table nn --column c --out "$WORK/nn" --no-not-null
assert_eq "$RC" 0 "plan --no-not-null: exit 0"
check_files "$WORK/nn" 4
assert_eq "$(ls "$WORK"/nn | grep -c not_null || true)" 0 "--no-not-null: no NOT NULL steps"
for t in nu nn; do
	for f in "$WORK/$t"/*.up.sql; do
		[[ $f == *_backfill_* ]] && run_bf --table $t --column c --until-done
		apply_psql "$f"
	done
done
assert_sql "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'nu'::regclass AND attname = 'c'" t \
	"--no-unique applied: NOT NULL"
assert_sql "SELECT count(*) FROM pg_index WHERE indrelid = 'nu'::regclass AND NOT indisprimary" 0 \
	"--no-unique applied: no index"
assert_sql "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'nn'::regclass AND attname = 'c'" f \
	"--no-not-null applied: still nullable"
assert_sql "SELECT count(*) FROM pg_index WHERE indrelid = 'nn'::regclass AND indisunique AND indisvalid
             AND NOT indisprimary" 1 "--no-not-null applied: unique index"

# ---------------------------------------------------------------------------
# --null-index: a partial index WHERE column IS NULL from the step after the
# column's, dropped by the last step; hostile names, applied with psql -f.

# null_indexes RELS: "name valid" of every partial index WHERE ... IS NULL on
# the tables whose oids RELS (a query) gives, one line each, by name.
null_indexes() {
	psqlc "SELECT coalesce(string_agg(quote_ident(c.relname) || ' ' || i.indisvalid, E'\n'
	                                  ORDER BY c.relname), '')
	         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	        WHERE i.indrelid IN ($1) AND i.indpred IS NOT NULL
	          AND pg_get_expr(i.indpred, i.indrelid) LIKE '%IS NULL%'"
}

# check_null_files DIR: the null index's files start with -- no-transaction,
# hold one statement, and the build really cannot run in a transaction.
check_null_files() {
	local dir=$1 f
	for f in "$dir"/*_null_index_*.sql; do
		assert_eq "$(head -n 1 "$f")" '-- no-transaction' "$(basename "$f") starts with -- no-transaction"
		assert_eq "$(grep -v '^--' "$f" | grep -c ';$')" 1 "$(basename "$f") holds one statement"
	done
	f=$(ls "$dir"/*_create_*_null_index_*.up.sql | head -n 1)
	if psql -X -q -v ON_ERROR_STOP=1 -1 -f "$f" >"$WORK/tx.out" 2>&1; then
		fail "the partial index build ran inside a transaction"
	fi
	assert_file_match "$WORK/tx.out" 'cannot run inside a transaction block' \
		"inside a transaction the partial index build is refused"
}

TN=$'Null "Idx"\n; DROP TABLE victim; --'
psqlv s="$S" t="$TN" <<'SQL'
CREATE TABLE :"s".:"t" (id bigint PRIMARY KEY, payload text NOT NULL DEFAULT 'p');
CREATE INDEX ON :"s".:"t" (payload);
INSERT INTO :"s".:"t" SELECT i, 'payload-' || i FROM generate_series(1, 20000) i;
ANALYZE :"s".:"t";
SQL
QT=$(psqlv s="$S" t="$TN" <<<"SELECT format('%I.%I', :'s', :'t')")
OID=$(psqlc "SELECT '$QT'::regclass::oid")
NI=$(psqlv t="$TN" c="$C" <<<"SELECT quote_ident(:'t' || '_' || :'c' || '_null_idx')")
FP0=$(fingerprint "$OID")
DATA0=$(table_digest "$QT")

run_bf plan --schema "$S" --table "$TN" --column "$C" --null-index --out "$WORK/ni"
assert_eq "$RC" 0 "plan --null-index: exit 0"
check_files "$WORK/ni" 9
assert_match "$(ls "$WORK"/ni/*.up.sql | sed -n '4p')" '_create_public_id_null_index_on_null_idx_drop_table_[a-z]*\.up\.sql$' \
	"plan --null-index: the build is step 4, right after the backfill's"
assert_match "$(ls "$WORK"/ni/*.up.sql | tail -n 1)" '_drop_public_id_null_index_on_null_idx_drop_table_[a-z]*\.up\.sql$' \
	"plan --null-index: the drop is the last step"
check_null_files "$WORK/ni"
assert_eq "$(null_indexes "$OID")" "" "and leaves no index behind"

for f in "$WORK"/ni/*.up.sql; do
	if [[ $f == *_backfill_* ]]; then
		run_bf --schema "$S" --table "$TN" --column "$C" --until-done
		assert_eq "$RC" 0 "--null-index: backfill exit 0"
	fi
	apply_psql "$f"
	case $f in
	*_create_public_id_null_index_*)
		assert_eq "$(null_indexes "$OID")" "$NI true" \
			"--null-index after step 3's up: the valid partial index $NI"
		# Filled and vacuumed: the whole-table probe reads the index, a
		# few pages, not the table's heap.
		psqlc "VACUUM ANALYZE $QT"
		probe=$(psqlc "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF)
		               SELECT EXISTS (SELECT 1 FROM $QT WHERE \"$C\" IS NULL)")
		assert_match "$probe" 'Index Only Scan using .*null_idx' \
			"--null-index, filled: the whole-table probe reads the partial index"
		pages=$(sed -n 's/.*Buffers: shared hit=\([0-9]*\).*/\1/p' <<<"$probe" | head -n 1)
		heap=$(psqlc "SELECT relpages FROM pg_class WHERE oid = $OID")
		((pages <= 5)) || fail "the probe read $pages pages (the heap has $heap)"
		pass "--null-index, filled: the probe reads $pages page(s) (the heap has $heap)"
		assert_sql "SELECT pg_get_indexdef(indexrelid) LIKE '%USING btree (\"$C\") WHERE (\"$C\" IS NULL)'
		              FROM pg_index WHERE indrelid = $OID AND indpred IS NOT NULL" t \
			"--null-index: on the column itself, WHERE it IS NULL"
		;;
	esac
done
assert_eq "$(null_indexes "$OID")" "" "--null-index after the last up: the partial index is dropped"
assert_sql "SELECT attnotnull FROM pg_attribute WHERE attrelid = $OID AND attname = '$C'" t \
	"--null-index after the ups: column is NOT NULL"
assert_sql "SELECT count(*) FROM pg_index WHERE indrelid = $OID AND indisunique AND indisvalid
             AND NOT indisprimary" 1 "--null-index after the ups: the unique index"
mapfile -t downs < <(ls -r "$WORK"/ni/*.down.sql)
for f in "${downs[@]}"; do
	apply_psql "$f"
	case $f in
	*_drop_public_id_null_index_*)
		assert_eq "$(null_indexes "$OID")" "$NI true" \
			"--null-index: the last step's down builds the partial index again" ;;
	*_create_public_id_null_index_*)
		assert_eq "$(null_indexes "$OID")" "" "--null-index: step 3's down drops it" ;;
	esac
done
assert_eq "$(fingerprint "$OID")" "$FP0" "--null-index after the downs: catalog as before"
assert_eq "$(table_digest "$QT")" "$DATA0" "--null-index after the downs: data as before"

# --key: the index is on the key columns; applied as sqlx does.
psqlf <<'SQL'
CREATE TABLE nik (region int NOT NULL, id bigint NOT NULL, PRIMARY KEY (region, id));
INSERT INTO nik SELECT i % 7, i FROM generate_series(1, 5000) i;
ANALYZE nik;
SQL
OID=$(psqlc "SELECT 'nik'::regclass::oid")
FP0=$(fingerprint "$OID")
run_bf plan --table nik --column public_id --key region,id --null-index --no-unique --out "$WORK/nik"
assert_eq "$RC" 0 "plan --null-index --key --no-unique: exit 0"
check_files "$WORK/nik" 8
assert_match "$(ls "$WORK"/nik/*.up.sql | tail -n 1)" '_drop_public_id_null_index_on_nik\.up\.sql$' \
	"--no-unique: the drop follows SET NOT NULL"
for f in "$WORK"/nik/*.up.sql; do
	[[ $f == *_backfill_* ]] && run_bf --table nik --column public_id --key region,id --until-done
	apply_sqlx "$f"
	if [[ $f == *_create_public_id_null_index_* ]]; then
		assert_sql "SELECT pg_get_indexdef(indexrelid) || ' ' || indisvalid FROM pg_index
		             WHERE indrelid = $OID AND indpred IS NOT NULL" \
			"CREATE INDEX nik_public_id_null_idx ON public.nik USING btree (region, id) WHERE (public_id IS NULL) true" \
			"--key: the partial index is on the key columns"
	fi
done
assert_eq "$(null_indexes "$OID")" "" "--key after the ups: dropped"
mapfile -t downs < <(ls -r "$WORK"/nik/*.down.sql)
for f in "${downs[@]}"; do apply_sqlx "$f"; done
assert_eq "$(fingerprint "$OID")" "$FP0" "--key after the downs: catalog as before"

# plan --dsn on a partitioned table: one partial index per leaf partition,
# none on the partitioned ones (CREATE INDEX CONCURRENTLY cannot build one
# there, and the probes need none).
psqlf <<'SQL'
CREATE TABLE pe (region text NOT NULL, id bigint NOT NULL, PRIMARY KEY (region, id))
  PARTITION BY LIST (region);
CREATE TABLE pe_eu PARTITION OF pe FOR VALUES IN ('eu');
CREATE TABLE pe_am PARTITION OF pe FOR VALUES IN ('us', 'ca') PARTITION BY HASH (id);
CREATE TABLE pe_am_0 PARTITION OF pe_am FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE pe_am_1 PARTITION OF pe_am FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE pe_other PARTITION OF pe DEFAULT;
INSERT INTO pe SELECT (ARRAY['eu', 'us', 'ca', 'jp'])[1 + i % 4], i FROM generate_series(1, 4000) i;
ANALYZE pe;
SQL
PT="SELECT relid FROM pg_partition_tree('pe')"
# The tree's tables, and each one's columns, constraints and indexes.
pe_fingerprint() {
	local fp r
	fp=$(psqlc "SELECT string_agg(x, E'\n' ORDER BY x) FROM (SELECT relid::regclass::text FROM pg_partition_tree('pe')) r(x)")
	for r in pe pe_eu pe_am pe_am_0 pe_am_1 pe_other; do
		fp+=$'\n'$(fingerprint "$(psqlc "SELECT '$r'::regclass::oid")")
	done
	printf '%s' "$fp"
}
FP0=$(pe_fingerprint)
LEAF_IDX="pe_am_0_public_id_null_idx true
pe_am_1_public_id_null_idx true
pe_eu_public_id_null_idx true
pe_other_public_id_null_idx true"
run_bf plan --dsn "dbname=$PGDATABASE" --table pe --column public_id --null-index --out "$WORK/pe"
assert_eq "$RC" 0 "plan --dsn --null-index, partitioned: exit 0"
# add, default, backfill, 4 builds, 3 NOT NULL steps, 4 unique indexes, 4 drops
check_files "$WORK/pe" 18
assert_eq "$(ls "$WORK"/pe | grep -c '_create_public_id_null_index_on_pe_.*\.up\.sql$')" 4 \
	"partitioned: one partial index build per leaf partition"
assert_eq "$(ls "$WORK"/pe | grep -c '_drop_public_id_null_index_on_pe_.*\.up\.sql$')" 4 \
	"partitioned: one drop per leaf partition"
assert_eq "$(ls "$WORK"/pe | grep -c -e '_null_index_on_pe\.' -e '_null_index_on_pe_am\.')" 0 \
	"partitioned: none on the partitioned tables"
check_null_files "$WORK/pe"
builds=0
for f in "$WORK"/pe/*.up.sql; do
	if [[ $f == *_backfill_* ]]; then
		assert_eq "$(null_indexes "$PT")" "" \
			"partitioned, before the backfill: no partial index yet (it follows the backfill)"
		run_bf --table pe --column public_id --until-done
		assert_eq "$RC" 0 "partitioned: backfill exit 0"
	fi
	apply_psql "$f"
	if [[ $f == *_create_public_id_null_index_* ]] && ((++builds == 4)); then
		assert_eq "$(null_indexes "$PT")" "$LEAF_IDX" \
			"partitioned, after the builds: each leaf has its valid partial index"
		psqlc "VACUUM ANALYZE pe"
		probe=$(psqlc "EXPLAIN (COSTS OFF) SELECT EXISTS (SELECT 1 FROM pe WHERE public_id IS NULL)")
		assert_eq "$(grep -c 'Index Only Scan using pe_.*_public_id_null_idx' <<<"$probe")" 4 \
			"partitioned, filled: the probe reads each leaf's partial index"
	fi
done
assert_eq "$(null_indexes "$PT")" "" "partitioned after the ups: every partial index dropped"
assert_sql "SELECT count(*) FROM pg_index WHERE indrelid IN ($PT) AND indisunique AND indisvalid
             AND NOT indisprimary" 4 "partitioned after the ups: the 4 unique indexes"
mapfile -t downs < <(ls -r "$WORK"/pe/*.down.sql)
checked=0
for f in "${downs[@]}"; do
	if [[ $f == *_create_public_id_null_index_* ]] && ((checked++ == 0)); then
		assert_eq "$(null_indexes "$PT")" "$LEAF_IDX" \
			"partitioned: the drops' downs build every leaf's partial index again"
	fi
	apply_psql "$f"
done
assert_eq "$(null_indexes "$PT")" "" "partitioned after the downs: no partial index"
assert_eq "$(pe_fingerprint)" "$FP0" "partitioned after the downs: catalog as before"

# ---------------------------------------------------------------------------
# Long names: the check and index names are PostgreSQL's own choice
# (makeObjectName), multibyte characters cut whole.
LT=tbl_$(printf 'é%.0s' {1..29})
LC=col_$(printf 'ü%.0s' {1..20})
psqlv t="$LT" c="$LC" <<'SQL'
CREATE SCHEMA scratch;
CREATE TABLE scratch.:"t" (:"c" text UNIQUE);
SQL
pg_name=$(psqlv t="$LT" <<<"SELECT conname FROM pg_constraint WHERE conrelid = format('scratch.%I', :'t')::regclass")
run_bf plan --table "$LT" --column "$LC" --out "$WORK/long"
assert_eq "$RC" 0 "plan long names: exit 0"
assert_file_match "$(ls "$WORK"/long/*unique_index*.up.sql)" "INDEX CONCURRENTLY \"$pg_name\" ON" \
	"long names: index named as PostgreSQL names it ($pg_name)"

# ---------------------------------------------------------------------------
# Bad --out: usage 64 without it; 78 for a file, a directory that already
# holds this plan, or a missing parent; nothing is written.
run_bf plan --table orders --column public_id
assert_eq "$RC" 64 "plan without --out: exit 64"
assert_file_match "$ERR" "$NB_ERR_RE.*--out" "plan without --out: says --out"
touch "$WORK/file"
run_bf plan --table orders --column public_id --out "$WORK/file"
assert_eq "$RC" 78 "plan --out FILE: exit 78"
assert_eq "$(grep -c '' "$ERR")" 1 "plan --out FILE: one stderr line"
before=$(ls "$WORK/b" | wc -l)
run_bf plan --table orders --column public_id --out "$WORK/b"
assert_eq "$RC" 78 "plan again into the same directory: exit 78"
assert_file_match "$ERR" 'already has step' "plan again: says the step is there"
assert_eq "$(ls "$WORK/b" | wc -l)" "$before" "plan again: nothing written"
run_bf plan --table orders --column public_id --out "$WORK/no/such/dir"
assert_eq "$RC" 78 "plan --out with a missing parent: exit 78"
run_bf plan --table orders --column public_id --out "$WORK/b2" --size 0
assert_eq "$RC" 78 "plan --size 0: exit 78"
[[ ! -e $WORK/b2 ]] || fail "plan --size 0 created the directory"
pass "plan --size 0: nothing written"

finish
