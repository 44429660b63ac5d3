#!/usr/bin/env bash
# honest_outcomes: hostile but ordinary database features. A target the
# batches cannot work on honestly is refused (78, one line) before anything
# is written: the whole database's pg_dump is the same after. Rows that no
# pass can fill end --until-done with exit 1 and the reason within a minute,
# never a pass loop. Unique violations have a budget: the feasible small id
# space completes, the incurable one stops naming the index, in few lines.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

pg_start

psqlf <<'SQL'
-- row-level security: the role "app" sees half the rows; on rls_upd it may
-- see them all but update only half
CREATE ROLE app LOGIN;
GRANT USAGE ON SCHEMA public TO app;
CREATE TABLE rls (id bigint PRIMARY KEY, c text, owner text);
INSERT INTO rls SELECT i, NULL, CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END
  FROM generate_series(1, 10000) i;
ALTER TABLE rls ENABLE ROW LEVEL SECURITY;
CREATE POLICY see_a ON rls USING (owner = 'a');
GRANT SELECT, UPDATE ON rls TO app;
CREATE TABLE rls_upd (id bigint PRIMARY KEY, c text);
INSERT INTO rls_upd SELECT i, NULL FROM generate_series(1, 10000) i;
ALTER TABLE rls_upd ENABLE ROW LEVEL SECURITY;
CREATE POLICY see_all ON rls_upd FOR SELECT USING (true);
CREATE POLICY upd_half ON rls_upd FOR UPDATE USING (id % 4 <> 0);
GRANT SELECT, UPDATE ON rls_upd TO app;
-- the owner (not a superuser: they bypass it always) forced under its
-- own policies
CREATE ROLE owner_r LOGIN;
GRANT CREATE, USAGE ON SCHEMA public TO owner_r;
SET ROLE owner_r;
CREATE TABLE rls_forced (id bigint PRIMARY KEY, c text);
INSERT INTO rls_forced SELECT i, NULL FROM generate_series(1, 100) i;
ALTER TABLE rls_forced ENABLE ROW LEVEL SECURITY;
ALTER TABLE rls_forced FORCE ROW LEVEL SECURITY;
CREATE POLICY none ON rls_forced USING (false);
RESET ROLE;

CREATE TABLE gen (id bigint PRIMARY KEY, c text GENERATED ALWAYS AS ('x' || id) STORED);
INSERT INTO gen SELECT i FROM generate_series(1, 100) i;
CREATE DOMAIN d20 AS varchar(20);
CREATE DOMAIN d20b AS d20;
CREATE DOMAIN d20c AS d20b;
CREATE TABLE dom (id bigint PRIMARY KEY, c d20c);
INSERT INTO dom SELECT i, NULL FROM generate_series(1, 100) i;
CREATE DOMAIN ord_id AS text CHECK (VALUE LIKE 'ord\_%');
CREATE DOMAIN ord_id2 AS ord_id;
CREATE TABLE dom_check (id bigint PRIMARY KEY, c ord_id2);
INSERT INTO dom_check SELECT i, NULL FROM generate_series(1, 100) i;
CREATE TABLE ruled (id bigint PRIMARY KEY, c text);
INSERT INTO ruled SELECT i, NULL FROM generate_series(1, 100) i;
CREATE TABLE ruled_log (id bigint);
CREATE RULE also_log AS ON UPDATE TO ruled DO ALSO INSERT INTO ruled_log VALUES (new.id);
CREATE TABLE ref_target (c text PRIMARY KEY);
CREATE TABLE fk (id bigint PRIMARY KEY, c text REFERENCES ref_target);
INSERT INTO fk SELECT i, NULL FROM generate_series(1, 100) i;
CREATE TABLE pk_col (id bigint NOT NULL, c text) PARTITION BY LIST (c);
CREATE TABLE pk_col_null PARTITION OF pk_col FOR VALUES IN (NULL);
CREATE TABLE pk_col_rest PARTITION OF pk_col DEFAULT;
INSERT INTO pk_col SELECT i, NULL FROM generate_series(1, 100) i;
CREATE TABLE tiny (id bigint PRIMARY KEY, c text UNIQUE);
INSERT INTO tiny SELECT i, NULL FROM generate_series(1, 100) i;
CREATE TABLE small_nouniq (id bigint PRIMARY KEY, c text);
INSERT INTO small_nouniq SELECT i, NULL FROM generate_series(1, 100000) i;

-- internal names as user names
CREATE TABLE aliases (nanoid_backfill_n bigint PRIMARY KEY, nb_n int, nb_id text,
                      nb_ctid int, nb_k1 int, nb_filled bool, c text);
INSERT INTO aliases SELECT i, i, 'keep', i, i, true, NULL FROM generate_series(1, 3000) i;
CREATE TABLE aliases2 (nb_k1 bigint PRIMARY KEY, nanoid_backfill_t int, "numbered" text);
INSERT INTO aliases2 SELECT i, i, NULL FROM generate_series(1, 3000) i;

-- rows a trigger will not let be filled
CREATE TABLE skipped (id bigint PRIMARY KEY, c text);
INSERT INTO skipped SELECT i, NULL FROM generate_series(1, 10000) i;
CREATE FUNCTION skip_fourth() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN IF new.id % 4 = 0 THEN RETURN NULL; END IF; RETURN new; END $$;
CREATE TRIGGER skip_fourth BEFORE UPDATE ON skipped FOR EACH ROW EXECUTE FUNCTION skip_fourth();
CREATE TABLE nulled (c text, payload int);
INSERT INTO nulled SELECT NULL, i FROM generate_series(1, 5000) i;
CREATE FUNCTION null_some() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN IF new.payload % 5 = 0 THEN new.c := NULL; END IF; RETURN new; END $$;
CREATE TRIGGER null_some BEFORE UPDATE ON nulled FOR EACH ROW EXECUTE FUNCTION null_some();

-- unique violations
CREATE TABLE space3 (id bigint PRIMARY KEY, c text UNIQUE, payload int);
INSERT INTO space3 SELECT i, NULL, i FROM generate_series(1, 100000) i;
CREATE TABLE other_col (id bigint PRIMARY KEY, c text, o int UNIQUE);
INSERT INTO other_col SELECT i, NULL, NULL FROM generate_series(1, 1000) i;
CREATE FUNCTION same_o() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN new.o := 1; RETURN new; END $$;
CREATE TRIGGER same_o BEFORE UPDATE ON other_col FOR EACH ROW EXECUTE FUNCTION same_o();
ANALYZE;
SQL

# Another session's temporary table, held open for the test.
# (Separate -c: each commits, so the table is in the catalog for others.)
psql -X -qAt -c "CREATE TEMP TABLE tmp_t (id bigint PRIMARY KEY, c text)" \
	-c "INSERT INTO tmp_t SELECT i, NULL FROM generate_series(1, 10) i" \
	-c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
BG_PIDS+=($!)
wait_for 30 "the temporary table exists" \
	sql_true "SELECT count(*) = 1 FROM pg_class WHERE relname = 'tmp_t' AND relpersistence = 't'"
TMP_SCHEMA=$(psqlc "SELECT relnamespace::regnamespace FROM pg_class WHERE relname = 'tmp_t'")

# refuse NAME WANT-LINE-ERE ARGS...: exit 78, exactly one stderr line, which
# matches, and the database unchanged (no progress schema, no row changed).
refuse() {
	local name=$1 want=$2 before
	shift 2
	before=$(db_digest)
	run_bf "$@"
	assert_eq "$RC" 78 "$name: exit 78"
	assert_eq "$(wc -l <"$ERR")" 1 "$name: one stderr line"
	assert_file_match "$ERR" "$NB_ERR_RE.*$want" "$name: the line says why"
	assert_eq "$(db_digest)" "$before" "$name: the database is unchanged"
}

C=(--column c --until-done)
APP=(--dsn "user=app dbname=$PGDATABASE")
refuse "RLS hides rows" 'row-level security applies to role "app" on public\.rls.*BYPASSRLS' \
	--table rls "${C[@]}" "${APP[@]}"
refuse "RLS update policy narrower" 'row-level security applies to role "app" on public\.rls_upd' \
	--table rls_upd "${C[@]}" "${APP[@]}"
refuse "RLS forced on the owner" 'row-level security applies to role "owner_r" on public\.rls_forced' \
	--table rls_forced "${C[@]}" --dsn "user=owner_r dbname=$PGDATABASE"
refuse "verify under RLS" 'row-level security applies to role "app".*verify would see only' \
	verify --table rls --column c "${APP[@]}"
refuse "generated column" 'column "c" of "public"\."gen" is a generated column' --table gen "${C[@]}"
refuse "domain over a domain over varchar(20)" 'is d20c, which holds 20 characters: too short for ids of 21' \
	--table dom "${C[@]}"
refuse "a domain's CHECK under another domain" \
	'column "c" of "public"\."dom_check" does not accept a generated id: .*"ord_id_check"' \
	--table dom_check "${C[@]}"
run_bf --table dom_check "${C[@]}" --prefix ord_
assert_eq "$RC" 0 "a domain's CHECK: ids that satisfy it fill the column"
refuse "DO ALSO rule" 'rule also_log on public\.ruled rewrites UPDATE' --table ruled "${C[@]}"
refuse "foreign key" 'column "c" is in foreign key fk_c_fkey on public\.fk' --table fk "${C[@]}"
refuse "partition key" 'column "c" is in the partition key of public\.pk_col' --table pk_col "${C[@]}"
refuse "another session's temp table" "$TMP_SCHEMA\\.tmp_t is a temporary table; another session cannot see its rows" \
	--schema "$TMP_SCHEMA" --table tmp_t "${C[@]}"
refuse "64 ids for 100 rows" '64 distinct ids cannot give 100 rows unique ids' \
	--table tiny "${C[@]}" --size 1
refuse "duplicates likely, no unique index" 'duplicates are likely.*--allow-duplicates' \
	--table small_nouniq "${C[@]}" --size 3
assert_sql "SELECT count(*) FROM ruled_log" 0 "the rule's table got no row"

# The job remembers its format: a resume with another is refused.
run_bf --table aliases "${C[@]}" --max-runtime 1 --max-rate 1000 --batch-size 100
assert_eq "$RC" 0 "format: a first, partial run exits 0"
assert_sql "SELECT count(*) BETWEEN 1 AND 2999 FROM aliases WHERE c IS NOT NULL" t \
	"format: the first run filled part of the table"
refuse "resume with another --size and --alphabet" \
	'job "public\.aliases\.c" fills ids of 21 symbols of .*this run would make ids of 30 symbols of "abc".*--job' \
	--table aliases "${C[@]}" --size 30 --alphabet abc
run_bf --table aliases "${C[@]}" --size 30 --alphabet abc --job other_job
assert_eq "$RC" 0 "format: a new --job may use another format"
assert_sql "SELECT count(*) FROM aliases WHERE c IS NULL" 0 "format: the new job filled the rest"

# Internal aliases cannot collide with user columns.
run_bf --table aliases2 --column numbered --until-done --order key
assert_eq "$RC" 0 "aliases: key nb_k1, columns named like our aliases: exit 0"
assert_sql "SELECT count(*) = 3000 AND count(DISTINCT numbered) = 3000 FROM aliases2" t \
	"aliases: every row filled, ids distinct"
assert_sql "SELECT count(*) FROM aliases WHERE nb_id <> 'keep' OR nb_n <> nanoid_backfill_n
             OR nb_ctid <> nanoid_backfill_n OR NOT nb_filled" 0 \
	"aliases: the look-alike columns are untouched"
assert_sql "SELECT sum(nanoid_backfill_t) FROM aliases2" 4501500 "aliases: nanoid_backfill_t untouched"

# unfillable ROWS-NULL TABLE TRIGGER: --until-done ends within a minute with
# exit 1, the count and the trigger, in few lines; the rest is filled.
unfillable() {
	local table=$1 left=$2 trigger=$3 start
	start=$(now_s)
	run_bf --table "$table" "${C[@]}"
	assert_eq "$RC" 1 "$table: exit 1"
	float_between "$(elapsed_s "$start")" 0 60 || fail "$table: took $(elapsed_s "$start") s"
	pass "$table: ended within a minute"
	assert_file_match "$ERR" "$NB_ERR_RE$left rows of \"public\"\\.\"$table\" stay NULL after 3 passes without progress" \
		"$table: the count of the rows left"
	assert_file_match "$ERR" "BEFORE UPDATE triggers.*$trigger on public\\.$table" "$table: the trigger named"
	(($(wc -l <"$ERR") < 20)) || fail "$table: $(wc -l <"$ERR") log lines"
	pass "$table: fewer than 20 log lines"
	assert_sql "SELECT count(*) FROM $table WHERE c IS NULL" "$left" "$table: exactly those rows are NULL"
	assert_sql "SELECT count(c) = count(DISTINCT c) FROM $table" t "$table: the filled ids are distinct"
}
unfillable skipped 2500 skip_fourth
assert_file_match "$ERR" '\(keys 4, 8, 12, 16, 20\)' "skipped: a few of the rows by key"
unfillable nulled 1000 null_some
assert_file_match "$ERR" '\(ctids \(' "nulled: no key, so the rows by ctid"

# A service says it once and backs off: with a 0.2 s interval, 6 s make 30
# passes at full speed; doubling from the third, 7 or 8.
psqlf <<'SQL'
CREATE TABLE skipped_svc (id bigint PRIMARY KEY, c text);
INSERT INTO skipped_svc SELECT i, NULL FROM generate_series(1, 2000) i;
CREATE TRIGGER skip_fourth BEFORE UPDATE ON skipped_svc FOR EACH ROW EXECUTE FUNCTION skip_fourth();
ANALYZE skipped_svc;
SQL
bg_bf --table skipped_svc --column c --idle-interval 0.2
sleep 6
kill_bf TERM "$BF_PID"
assert_eq "$(grep -c 'stay NULL after' "$ERR")" 1 "service: the unfillable rows are told once"
assert_file_match "$ERR" 'warn: 500 rows of "public"\."skipped_svc" stay NULL.*passes back off' \
	"service: a warning, with the count, that passes back off"
passes=$(jobs_col passes "table_name = 'skipped_svc'")
((passes >= 3 && passes <= 12)) || fail "service: $passes passes in 6 s"
pass "service: $passes passes in 6 s, not 30"

# A unique index the ids keep meeting: 262,144 ids of 3 symbols for 100,000
# rows is feasible, and completes.
payload_before=$(psqlc "SELECT md5(string_agg(payload::text, ',' ORDER BY id)) FROM space3")
run_bf --table space3 "${C[@]}" --size 3
assert_eq "$RC" 0 "--size 3 over 100,000 rows with a unique index: exit 0"
assert_sql "SELECT count(*) FILTER (WHERE c IS NULL), count(DISTINCT c), count(*) FILTER (WHERE c !~ '^[A-Za-z0-9_-]{3}\$') FROM space3" \
	"0|100000|0" "--size 3: no NULL, 100,000 distinct ids of 3 symbols"
assert_sql "SELECT md5(string_agg(payload::text, ',' ORDER BY id)) FROM space3" "$payload_before" \
	"--size 3: other columns unchanged"
assert_file_match "$ERR" 'a unique index will reject about 2[0-9],[0-9]{3} generated ids over 100,000 rows' \
	"--size 3: the birthday bound warned first"
(($(wc -l <"$ERR") < 100)) || fail "--size 3: $(wc -l <"$ERR") log lines"
pass "--size 3: fewer than 100 log lines"

# Nearly and exactly full spaces with a unique index complete too: 4,000
# rows in 16^3 = 4,096 ids, 243 rows in 3^5 = 243.
psqlf <<'SQL'
CREATE TABLE nearly_full (id bigint PRIMARY KEY, c text UNIQUE);
INSERT INTO nearly_full SELECT i, NULL FROM generate_series(1, 4000) i;
CREATE TABLE full_space (id bigint PRIMARY KEY, c text UNIQUE);
INSERT INTO full_space SELECT i, NULL FROM generate_series(1, 243) i;
ANALYZE nearly_full, full_space;
SQL
run_bf --table nearly_full "${C[@]}" --size 3 --alphabet 0123456789abcdef
assert_eq "$RC" 0 "4,000 rows in 4,096 ids: exit 0"
assert_sql "SELECT count(DISTINCT c) FROM nearly_full" 4000 "4,000 rows in 4,096 ids: all distinct"
(($(wc -l <"$ERR") < 100)) || fail "4,000 rows in 4,096 ids: $(wc -l <"$ERR") log lines"
pass "4,000 rows in 4,096 ids: fewer than 100 log lines"
run_bf --table full_space "${C[@]}" --size 5 --alphabet abc
assert_eq "$RC" 0 "243 rows in 243 ids: exit 0"
assert_sql "SELECT count(DISTINCT c) FROM full_space" 243 "243 rows in 243 ids: every id used once"

# A row another session keeps updating is skipped (its ctid moves), not
# stuck: the run goes on until it has it.
psqlf <<'SQL'
CREATE TABLE hot (id bigint PRIMARY KEY, c text, v int NOT NULL DEFAULT 0);
INSERT INTO hot SELECT i, NULL, 0 FROM generate_series(1, 20000) i;
ANALYZE hot;
SQL
(while :; do printf 'UPDATE hot SET v = v + 1 WHERE id = 10000; SELECT pg_sleep(0.005);\n%.0s' {1..200}; done |
	psql -X -q >/dev/null 2>&1) &
BG_PIDS+=($!)
run_bf --table hot "${C[@]}"
assert_eq "$RC" 0 "a hot row: exit 0"
assert_sql "SELECT count(*) FILTER (WHERE c IS NULL), count(DISTINCT c) FROM hot" "0|20000" \
	"a hot row: filled with the rest"
assert_sql "SELECT v > 0 FROM hot WHERE id = 10000" t "a hot row: it was being updated"

# A trigger makes another unique column repeat: no id can cure it.
run_bf --table other_col "${C[@]}"
assert_eq "$RC" 1 "another column's unique index: exit 1"
assert_file_match "$ERR" "$NB_ERR_RE"'unique index "other_col_o_key" on "public"\."other_col" rejected a batch, and it is not an index of column "c"' \
	"another column's unique index: named, with the reason"
(($(wc -l <"$ERR") < 100)) || fail "another column: $(wc -l <"$ERR") log lines"
pass "another column's unique index: fewer than 100 log lines"
assert_sql "SELECT count(*) FROM other_col WHERE c IS NOT NULL" 0 \
	"another column's unique index: nothing filled (each batch repeats o itself)"

finish
