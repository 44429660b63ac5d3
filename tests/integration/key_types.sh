#!/usr/bin/env bash
# key_types: keyset pagination over non-integer and composite keys, with a
# batch size that does not divide the row count (batches straddle key groups).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

N=10000
BATCH=333
pg_start

psqlf <<SQL
CREATE TABLE k_uuid (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), public_id text);
INSERT INTO k_uuid (public_id) SELECT NULL FROM generate_series(1, $N);

CREATE TABLE k_text (id text PRIMARY KEY, public_id text);
INSERT INTO k_text SELECT md5(i::text), NULL FROM generate_series(1, $N) i;

-- a repeats ~270 times, so batches end in the middle of an a-group
CREATE TABLE k_comp (a int, b text, public_id text, PRIMARY KEY (a, b));
INSERT INTO k_comp SELECT i % 37, md5(i::text), NULL FROM generate_series(1, $N) i;

-- no primary key: a unique index on NOT NULL columns, named with --key
CREATE TABLE k_uniq (a int NOT NULL, b text NOT NULL, public_id text);
CREATE UNIQUE INDEX k_uniq_ab ON k_uniq (a, b);
INSERT INTO k_uniq SELECT i % 41, 'b' || (i / 41), NULL FROM generate_series(1, $N) i;
ANALYZE;
SQL

check_filled() {
	local t=$1
	assert_eq "$RC" 0 "$t: exit 0"
	assert_sql "SELECT count(*) FROM $t" "$N" "$t: still $N rows"
	assert_sql "SELECT count(*) FROM $t WHERE public_id IS NULL" 0 "$t: no NULL left"
	assert_sql "SELECT count(*) FROM $t WHERE public_id !~ '$NB_DEFAULT_ID_RE'" 0 "$t: default nanoids"
	assert_sql "SELECT count(*) - count(DISTINCT public_id) FROM $t" 0 "$t: no duplicates"
	assert_sql "SELECT rows_done FROM $NB_JOBS WHERE table_name = '$t'" "$N" "$t: rows_done = $N"
}

for t in k_uuid k_text k_comp; do
	run_bf --table "$t" --column public_id --until-done --batch-size "$BATCH" --order key
	check_filled "$t"
done
assert_sql "SELECT key_columns FROM $NB_JOBS WHERE table_name = 'k_comp'" '{a,b}' \
	"k_comp: the composite primary key is the key, in index order"

run_bf --table k_uniq --column public_id --key a,b --until-done --batch-size "$BATCH" --order key
check_filled k_uniq
assert_sql "SELECT key_columns FROM $NB_JOBS WHERE table_name = 'k_uniq'" '{a,b}' \
	"k_uniq: --key a,b recorded"

finish
