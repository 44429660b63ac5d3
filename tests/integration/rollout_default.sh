#!/usr/bin/env bash
# rollout_default: `plan`'s step 2 creates an in-database nanoid function of
# the job's format and sets it as the column's default. Applied with psql:
# rows inserted by code that does not know the column get well-formed ids
# (alphabet, size, prefix) from then on, through NOT NULL and the unique
# index; the backfill and the rest of the rollout complete with the default
# in place; the downs remove default and function. The ids are unbiased: a
# chi-square test over their characters against the uniform distribution,
# for the default alphabet (64) and for an odd one (37, where byte % 37
# would be biased), and the same test rejects a byte % 37 generator.
# --no-default leaves the step out; `finalize` works with the default in
# place and leaves it there.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

pg_start

# psqlv VAR=VALUE... : SQL on stdin, with psql variables (:'var' a literal,
# :"var" an identifier), so no value passes through the shell into SQL.
psqlv() {
	local args=() kv
	for kv in "$@"; do args+=(-v "$kv"); done
	psql -X -v ON_ERROR_STOP=1 -qAt "${args[@]}" -f -
}

apply() { # FILE: psql -f, as a person would
	psql -X -q -v ON_ERROR_STOP=1 -f "$1" >"$WORK/apply.out" 2>&1 ||
		fail "psql -f $(basename "$1") failed: $(cat "$WORK/apply.out")"
}

# The chi-square test. Under the null hypothesis (every symbol equally
# likely, ids independent) the statistic over N symbols of an alphabet of
# k follows chi2(k - 1). The test rejects above the (1 - alpha) quantile
# with alpha = 1e-6: a fair generator fails it once in a million runs,
# essentially never. The quantile by Wilson-Hilferty, chi2_p(df) ~ df (1 -
# 2/(9 df) + z sqrt(2/(9 df)))^3 with z = 4.7534 (the standard normal's
# 1 - 1e-6 quantile): 131.7 for df 63, 92.0 for df 36, a little above the
# exact quantiles (131.4, 91.5: alpha is then about 9e-7).
# Power: byte % 37 gives 34 symbols p = 7/256 and 3 symbols p = 6/256; over
# 420,000 symbols the statistic's expectation is 36 + 420000 * sum((p -
# 1/37)^2 * 37) = about 690, far above 92.0 (and a 64-symbol alphabet
# masked without rejection would be no different from a fair one, which
# is why the odd alphabet is tested).
chi2_limit() { # DF
	awk -v df="$1" 'BEGIN { z = 4.7534; a = 2 / (9 * df);
		printf "%.1f", df * (1 - a + z * sqrt(a)) ^ 3 }'
}

# chi2 TABLE COLUMN ALPHABET PREFIX_LEN: the statistic over the symbols
# (after the prefix) of every id in TABLE.COLUMN, with each symbol of
# ALPHABET counted, zero counts included.
chi2() {
	psqlv t="$1" c="$2" alpha="$3" plen="$4" <<'SQL'
WITH sym AS (
  SELECT substr(x.id, :plen + i, 1) AS s
    FROM (SELECT :"c" AS id FROM :"t") x,
         generate_series(1, length(x.id) - :plen) i),
cnt AS (SELECT s, count(*) AS n FROM sym GROUP BY s),
a AS (SELECT substr(:'alpha', k, 1) AS s FROM generate_series(1, length(:'alpha')) k),
e AS (SELECT (SELECT count(*) FROM sym)::float8 / length(:'alpha') AS e)
SELECT round(sum((coalesce(cnt.n, 0) - e.e) ^ 2 / e.e)::numeric, 1)
  FROM a LEFT JOIN cnt USING (s), e;
SQL
}

# bad_ids TABLE COLUMN ALPHABET PREFIX SIZE: ids not of the format, and NULLs.
bad_ids() {
	psqlv t="$1" c="$2" alpha="$3" prefix="$4" size="$5" <<'SQL'
SELECT count(*) FROM :"t" x
 WHERE x.:"c" IS NULL
    OR length(x.:"c") <> length(:'prefix') + :size
    OR left(x.:"c", length(:'prefix')) <> :'prefix'
    OR EXISTS (SELECT 1 FROM generate_series(length(:'prefix') + 1, length(x.:"c")) i
                WHERE strpos(:'alpha', substr(x.:"c", i, 1)) = 0);
SQL
}

# The default's function and expression on TABLE.COLUMN ("" if none).
default_of() {
	psqlv t="$1" c="$2" <<'SQL'
SELECT coalesce(pg_get_expr(d.adbin, d.adrelid), '')
  FROM pg_attribute a LEFT JOIN pg_attrdef d
       ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid = (SELECT oid FROM pg_class WHERE relname = :'t')
   AND a.attname = :'c';
SQL
}

DEFAULT_ALPHABET=useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict
LIMIT63=$(chi2_limit 63)
LIMIT36=$(chi2_limit 36)
assert_eq "$LIMIT63 $LIMIT36" "131.7 92.0" "chi-square limits at alpha = 1e-6 for df 63 and 36"

# ---------------------------------------------------------------------------
# A: the default format, in a schema whose name needs quoting; the whole
# rollout applied with psql, the backfill in between.
S='App "S"'
psqlv s="$S" <<'SQL'
CREATE SCHEMA :"s";
CREATE TABLE :"s".orders (id bigint PRIMARY KEY, note text NOT NULL DEFAULT 'n');
INSERT INTO :"s".orders (id) SELECT g FROM generate_series(1, 3000) g;
SQL
run_bf plan --schema "$S" --table orders --column public_id --out "$WORK/a"
assert_eq "$RC" 0 "plan: exit 0"
mapfile -t UPS < <(ls "$WORK"/a/*.up.sql)
assert_eq "${#UPS[@]}" 7 "plan: 7 steps"
assert_match "$(basename "${UPS[1]}")" '^[0-9]{14}_set_public_id_default_on_orders\.up\.sql$' \
	"step 2 is the default, right after the column"
assert_file_match "${UPS[1]}" 'gen_random_uuid' "step 2's function draws from gen_random_uuid()"
assert_file_match "${UPS[1]}" "^-- nanoid-backfill plan, step 2 of 7 \\(up\\)" "step 2's header"

apply "${UPS[0]}"
apply "${UPS[1]}"
assert_sql "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'App \"S\"' AND p.proname = 'orders_public_id_nanoid'" 1 \
	"the function is in the table's schema, named orders_public_id_nanoid"
assert_eq "$(default_of orders public_id)" '"App ""S""".orders_public_id_nanoid()' \
	"the column's default calls it"
assert_sql "SELECT count(*) FROM \"App \"\"S\"\"\".orders WHERE public_id IS NULL" 3000 \
	"the rows already there stay NULL (no rewrite)"

# Code that does not know the column.
psqlv s="$S" <<'SQL'
INSERT INTO :"s".orders (id) SELECT g FROM generate_series(100001, 120000) g;
CREATE TABLE new_ids AS SELECT public_id FROM :"s".orders WHERE id > 100000;
SQL
assert_eq "$(bad_ids new_ids public_id "$DEFAULT_ALPHABET" '' 21)" 0 \
	"20,000 inserts without the column: every id has 21 symbols of the default alphabet"
assert_sql "SELECT count(DISTINCT public_id) FROM new_ids" 20000 "and all 20,000 are distinct"
X=$(chi2 new_ids public_id "$DEFAULT_ALPHABET" 0)
float_between "$X" 0 "$LIMIT63" || fail "chi-square over 420,000 symbols of the default alphabet: $X > $LIMIT63"
pass "chi-square over 420,000 symbols of the default alphabet: $X <= $LIMIT63 (df 63, alpha 1e-6)"

# The backfill fills the old rows, the rest of the rollout completes.
run_bf --schema "$S" --table orders --column public_id --until-done
assert_eq "$RC" 0 "backfill with the default in place: exit 0"
for f in "${UPS[@]:2}"; do apply "$f"; done
assert_sql "SELECT attnotnull FROM pg_attribute WHERE attrelid = '\"App \"\"S\"\"\".orders'::regclass
            AND attname = 'public_id'" t "rollout complete: NOT NULL"
assert_sql "SELECT count(*) FROM pg_index WHERE indrelid = '\"App \"\"S\"\"\".orders'::regclass
            AND indisunique AND indisvalid AND indnkeyatts = 1" 2 "rollout complete: valid unique index (and the key)"
psqlv s="$S" <<'SQL'
INSERT INTO :"s".orders (id) VALUES (200001), (200002);
SQL
assert_sql "SELECT count(*) FROM \"App \"\"S\"\"\".orders WHERE id > 200000 AND public_id ~ '^[A-Za-z0-9_-]{21}\$'" 2 \
	"after NOT NULL and the unique index, inserts without the column still work"
run_bf verify --schema "$S" --table orders --column public_id
assert_eq "$RC" 0 "verify: clean, the default's ids counted as any other (exit 0)"
assert_file_match "$OUT" '23002' "verify counted all 23,002 rows"

# The downs in reverse: step 2's removes default and function.
mapfile -t DOWNS < <(ls -r "$WORK"/a/*.down.sql)
for f in "${DOWNS[@]:0:5}"; do apply "$f"; done
assert_eq "$(default_of orders public_id)" '"App ""S""".orders_public_id_nanoid()' \
	"the downs of steps 7 to 3 leave the default"
apply "${DOWNS[5]}"
assert_eq "$(default_of orders public_id)" '' "step 2's down drops the default"
assert_sql "SELECT count(*) FROM pg_proc WHERE proname = 'orders_public_id_nanoid'" 0 \
	"and the function"
apply "${DOWNS[5]}"
pass "step 2's down applies twice"
apply "${DOWNS[6]}"
assert_sql "SELECT count(*) FROM pg_attribute WHERE attrelid = '\"App \"\"S\"\"\".orders'::regclass
            AND attname = 'public_id' AND NOT attisdropped" 0 "step 1's down drops the column"

# ---------------------------------------------------------------------------
# B: an odd-sized alphabet (37 symbols, a quote and a backslash among them)
# and a prefix with a quote and a dollar-quote tag: the literals survive,
# applied sqlx-style (the file as one query string in a transaction).
ALPHA="abcdefghijklmnopqrstuvwxyz123456789'\\"
PREFIX="o'\$nb\$_"
assert_eq "${#ALPHA}" 37 "the odd alphabet has 37 symbols"
psqlc "CREATE TABLE odd (id bigint PRIMARY KEY)"
run_bf plan --table odd --column c --alphabet "$ALPHA" --prefix "$PREFIX" --out "$WORK/b"
assert_eq "$RC" 0 "plan with an odd alphabet and a hostile prefix: exit 0"
mapfile -t UPS < <(ls "$WORK"/b/*.up.sql)
for f in "${UPS[@]:0:2}"; do
	psql -X -q -v ON_ERROR_STOP=1 -c "BEGIN" -c "$(cat "$f")" -c "COMMIT" >"$WORK/apply.out" 2>&1 ||
		fail "sqlx-style apply of $(basename "$f") failed: $(cat "$WORK/apply.out")"
done
psqlc "INSERT INTO odd SELECT g FROM generate_series(1, 20000) g"
assert_eq "$(bad_ids odd c "$ALPHA" "$PREFIX" 21)" 0 \
	"20,000 ids: the prefix, then 21 symbols of the 37"
X=$(chi2 odd c "$ALPHA" "${#PREFIX}")
float_between "$X" 0 "$LIMIT36" || fail "chi-square over 420,000 symbols of 37: $X > $LIMIT36"
pass "chi-square over 420,000 symbols of 37: $X <= $LIMIT36 (df 36, alpha 1e-6)"

# The same test against a biased generator: byte % 37 over the same
# random bytes. It must fail, or the test above proves nothing.
psqlv <<'SQL'
CREATE TABLE biased AS
SELECT string_agg(substr('abcdefghijklmnopqrstuvwxyz123456789''\', get_byte(b, i) % 37 + 1, 1), '' ORDER BY i) AS c
  FROM (SELECT g, uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()) AS b
          FROM generate_series(1, 20000) g) r,
       unnest('{0,1,2,3,4,5,7,9,10,11,12,13,14,15,16,17,18,19,20,21,23}'::int[]) i
 GROUP BY g;
SQL
assert_sql "SELECT count(*) FROM biased WHERE length(c) = 21" 20000 "the biased generator's 20,000 ids"
X=$(chi2 biased c "$ALPHA" 0)
float_between "$X" "$LIMIT36" 1e9 || fail "chi-square of byte % 37: $X <= $LIMIT36: the test cannot see the bias"
pass "chi-square of byte % 37: $X > $LIMIT36, the bias is caught"

# The rollout finished by `finalize` instead: it works with the default in
# place and leaves it there.
run_bf --table odd --column c --alphabet "$ALPHA" --prefix "$PREFIX" --until-done
assert_eq "$RC" 0 "backfill (nothing left to fill): exit 0"
run_bf finalize --table odd --column c
assert_eq "$RC" 0 "finalize with the default in place: exit 0"
assert_sql "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'odd'::regclass AND attname = 'c'" t \
	"finalize: NOT NULL"
assert_match "$(default_of odd c)" 'odd_c_nanoid\(\)' "finalize leaves the default"
run_bf verify --table odd --column c --alphabet "$ALPHA" --prefix "$PREFIX"
assert_eq "$RC" 0 "verify with the odd format: the default's ids are well-formed (exit 0)"

# ---------------------------------------------------------------------------
# C: --no-default leaves the step out.
psqlc "CREATE TABLE plain (id bigint PRIMARY KEY)"
run_bf plan --table plain --column c --no-default --out "$WORK/c"
assert_eq "$RC" 0 "plan --no-default: exit 0"
assert_eq "$(find "$WORK/c" -name '*.up.sql' | wc -l)" 6 "--no-default: 6 steps"
assert_eq "$(find "$WORK/c" -name '*default*' | wc -l)" 0 "--no-default: no default step"
if grep -l 'nanoid()' "$WORK"/c/*.sql >/dev/null; then
	fail "--no-default: a file still names the function"
fi
pass "--no-default: no file names the function"
assert_file_match "$(ls "$WORK"/c/*_backfill_*.up.sql)" 'must write .c. on every' \
	"--no-default: the backfill step says to deploy code that writes the column"
apply "$(ls "$WORK"/c/*_add_c_to_plain.up.sql)"
psqlc "INSERT INTO plain VALUES (1)"
assert_sql "SELECT count(*) FROM plain WHERE c IS NULL" 1 "--no-default: an insert leaves NULL"
assert_eq "$(default_of plain c)" '' "--no-default: no default"

finish
