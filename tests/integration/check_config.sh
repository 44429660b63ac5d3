#!/usr/bin/env bash
# check_config: --check-config on the shipped example job file (pointed at a
# test table from the command line, which wins over the file) and on broken
# files and targets: the run's exit codes and one error line each, and
# nothing written to the database, ever. The id space: the format's
# p(collision) on stdout, and the birthday bound over the table's rows
# (refused, or a warning, by the size of the space, a unique index on the
# column and --allow-duplicates).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

EXAMPLE=$REPO_ROOT/config/example.conf
[[ -f $EXAMPLE ]] || fail "no $EXAMPLE"

pg_start
psqlf <<'SQL'
CREATE TABLE t (id bigint PRIMARY KEY, public_id text, n int, short varchar(10),
                m int NOT NULL DEFAULT 0);
INSERT INTO t SELECT i, NULL, i, NULL FROM generate_series(1, 1000) i;
CREATE TABLE nokey (id bigint, public_id text);
CREATE TABLE t2 (id bigint PRIMARY KEY, public_id text);
INSERT INTO t2 SELECT i, NULL FROM generate_series(1, 100) i;
-- analyzed: pg_stats says the key follows the heap, so auto walks by key
ANALYZE t;
ANALYZE t2;
-- 100,000 rows, with and without a unique index on the column
CREATE TABLE big (id bigint PRIMARY KEY, public_id text);
INSERT INTO big SELECT i, NULL FROM generate_series(1, 100000) i;
CREATE TABLE big_u (id bigint PRIMARY KEY, public_id text UNIQUE);
INSERT INTO big_u SELECT i, NULL FROM generate_series(1, 100000) i;
ANALYZE big;
ANALYZE big_u;
-- an inheritance parent's unique index covers its own rows only; a
-- partitioned table's index on the column spans every partition
CREATE TABLE inh (id bigint PRIMARY KEY, public_id text UNIQUE);
CREATE TABLE inh_c () INHERITS (inh);
INSERT INTO inh SELECT i, NULL FROM generate_series(1, 50) i;
INSERT INTO inh_c SELECT i, NULL FROM generate_series(51, 100) i;
CREATE TABLE pbyc (id bigint, public_id text) PARTITION BY LIST (public_id);
CREATE TABLE pbyc_d PARTITION OF pbyc DEFAULT;
CREATE UNIQUE INDEX ON pbyc (public_id);
INSERT INTO pbyc SELECT i, NULL FROM generate_series(1, 100) i;
ANALYZE inh;
ANALYZE inh_c;
ANALYZE pbyc;
CREATE ROLE nb_limited LOGIN;
GRANT SELECT ON t TO nb_limited;
SQL
V0=$(table_versions t)

OK_RE='^configuration OK: "public"\."t"\."public_id" by key \(id\)'
# The default format's line, with t's 1,000 rows.
IDS_RE='^ids: 21 symbols of 64 \(10\^37\.9 distinct ids\); 1e\+09 ids: p\(collision\) ~ 5\.9e-21; for the table.s rows, 1,000 ids: p\(collision\) ~ 5\.9e-33$'

# check EXIT ARGS...: --check-config with ARGS must exit EXIT; stdout and
# stderr in $WORK/assert.out / assert.err.
check() {
	local want=$1
	shift
	assert_exit "$want" "$NB" --check-config "$@"
}
err_is() { assert_file_match "$WORK/assert.err" "$NB_ERR_RE$1" "$2"; }
one_line() {
	assert_eq "$(wc -l <"$WORK/assert.err")" 1 "$1: exactly one line on stderr"
}

# --- the shipped example, pointed at t ----------------------------------------
check 0 --config "$EXAMPLE" --table t
assert_file_match "$WORK/assert.out" "$OK_RE" "example.conf + --table t: configuration OK"
assert_file_match "$WORK/assert.out" "$IDS_RE" "the default format: p(collision) at 1e9 ids and at t's rows"
assert_eq "$(wc -l <"$WORK/assert.out")" 2 "configuration OK and the id space: two lines"
assert_eq "$(wc -c <"$WORK/assert.err")" 0 "configuration OK: nothing on stderr"
check 0 --table t --column public_id --config "$EXAMPLE"
assert_file_match "$WORK/assert.out" "$OK_RE" "the command line wins wherever --config sits"
check 0 --config "$EXAMPLE" --table t --job orders-ids
assert_file_match "$WORK/assert.out" "$OK_RE; job \"orders-ids\"" "the OK line names the job"
check 78 --config "$EXAMPLE"
err_is 'table "public"\."orders" does not exist' "example.conf as shipped: table orders does not exist (78)"
one_line "missing table"

# --- broken job files ---------------------------------------------------------
job() { printf '%s\n' "$@" >"$WORK/job.conf"; }

job "table = t" "column = public_id" "no-such-key = 1"
check 78 --config "$WORK/job.conf"
err_is ".*job\.conf:3: unknown key 'no-such-key'" "unknown key: file:line and the key (78)"
one_line "unknown key"

job "table = t" "column = public_id" "batch-size = 0"
check 78 --config "$WORK/job.conf"
err_is ".*job\.conf:3: batch-size: 0 is out of range" "bad value: file:line, key and range (78)"

job "table = t" "column = public_id" "check-config = true"
check 78 --config "$WORK/job.conf"
err_is ".*job\.conf:3: 'check-config' can only be given on the command line" "check-config in a job file (78)"

job "column = public_id"
check 64 --config "$WORK/job.conf"
err_is 'missing --table' "no table anywhere: usage error (64)"

check 78 --config "$WORK/missing.conf"
err_is "cannot read job file" "unreadable job file (78)"

check 64 --table t --column public_id --bogus
err_is "unknown option '--bogus'" "unknown option (64)"

# --- targets a run would refuse -------------------------------------------------
job "table = t" "column = nope"
check 78 --config "$WORK/job.conf"
err_is 'column "nope" does not exist in table "public"\."t"' "missing column (78)"
one_line "missing column"

check 78 --table t --column n
err_is 'column "n" of "public"\."t" is of type integer' "wrong type (78)"

check 78 --table t --column short
err_is 'column "short" of "public"\."t" is character varying\(10\), which holds 10 characters: too short for ids of 21' "varchar too short (78)"
check 0 --table t --column short --size 8 --prefix ab
assert_file_match "$WORK/assert.out" '^configuration OK: "public"\."t"\."short"' "varchar(10) fits prefix 2 + size 8"

check 0 --table nokey --column public_id
assert_file_match "$WORK/assert.out" '^configuration OK: "public"\."nokey"\."public_id" in physical order \(it has no primary key' \
	"no primary key: auto walks it in physical order"
check 78 --table nokey --column public_id --order key
err_is 'table "public"\."nokey" has no primary key; name its key columns with --key' "no primary key (78)"

check 78 --table t --column public_id --key n
err_is 'key column "n" of "public"\."t" is nullable' "key nullable (78)"
check 78 --table t --column public_id --key m
err_is 'key \(m\) of "public"\."t" is not unique' "key not unique (78)"

check 78 --table nope --column public_id
err_is 'table "nope" does not exist' "missing table (78)"

# --add-column: a missing column is fine, and is not added by the check.
check 0 --table t --column added_id --add-column
assert_file_match "$WORK/assert.out" '^configuration OK: "public"\."t"\."added_id" will be added' \
	"--add-column: a missing column is reported as to be added"
assert_sql "SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'added_id'" 0 \
	"--add-column --check-config adds no column"

# --finalize without --until-done is refused as a run would refuse it.
check 64 --table t --column public_id --finalize
err_is '--finalize needs --until-done' "--finalize without --until-done (64)"

# --- the id space: the birthday bound over the table's rows --------------------
# 64^1 = 64 ids for t2's 100 rows: refused whatever else.
check 78 --table t2 --column public_id --size 1
err_is '64 distinct ids cannot give 100 rows unique ids; use a larger --size or --alphabet$' \
	"--size 1 on 100 rows: refused (78), naming both numbers"
one_line "--size 1"
check 78 --table t2 --column public_id --size 1 --allow-duplicates
err_is '64 distinct ids cannot give 100 rows' "--size 1: --allow-duplicates does not help"
# 64^3 = 262,144 ids for 100,000 rows, no unique index: refused unless allowed.
check 78 --table big --column public_id --size 3
err_is 'duplicates are likely: p\(collision\) ~ 1 over 100,000 rows with 262,144 distinct ids and no unique index on the column; .*pass --allow-duplicates$' \
	"--size 3 on 100,000 rows without a unique index: refused (78), naming --allow-duplicates"
one_line "--size 3"
check 0 --table big --column public_id --size 3 --allow-duplicates
assert_file_match "$WORK/assert.out" '^configuration OK: "public"\."big"' "--size 3 --allow-duplicates: configuration OK"
assert_file_match "$WORK/assert.out" '^ids: 3 symbols of 64 \(262,144 distinct ids\); 1e\+09 ids: p\(collision\) = 1; for the table.s rows, 100,000 ids: p\(collision\) ~ 1$' \
	"--size 3: the id space line"
assert_file_match "$WORK/assert.err" '^nanoid-backfill: warn: duplicates are likely: p\(collision\) ~ 1 over 100,000 rows .*filling anyway \(--allow-duplicates\)$' \
	"--size 3 --allow-duplicates: a warning line"
assert_eq "$(wc -l <"$WORK/assert.err")" 1 "--allow-duplicates: one warning line"
# With a unique index the repeats are rejected and retried: a warning.
check 0 --table big_u --column public_id --size 3
assert_file_match "$WORK/assert.err" '^nanoid-backfill: warn: a unique index will reject about 26,000 generated ids over 100,000 rows \(262,144 distinct ids\)' \
	"--size 3 with a unique index: a warning with the expected rejections"
# A repeat is unlikely enough: no word.
check 0 --table big --column public_id --size 10
assert_eq "$(wc -c <"$WORK/assert.err")" 0 "--size 10 on 100,000 rows (p ~ 4.3e-9): nothing on stderr"
# 64^2 = 4,096 ids for 100 rows (p ~ 0.7): which index counts.
check 78 --table inh --column public_id --size 2
err_is 'duplicates are likely: p\(collision\) ~ 0\.7 over 100 rows with 4,096 distinct ids and no unique index on the column' \
	"an inheritance tree: the parent's unique index does not cover the child (78)"
# Partitioned by the column itself (the only way a partitioned table has a
# unique index on it alone): filling would move rows between partitions.
check 78 --table pbyc --column public_id --size 2
err_is 'column "public_id" is in the partition key of public\.pbyc' \
	"a table partitioned by the column: refused (78)"
# A job file may hold the key.
job "table = big" "column = public_id" "size = 3" "allow-duplicates = true"
check 0 --config "$WORK/job.conf"
assert_file_match "$WORK/assert.err" 'filling anyway' "allow-duplicates in a job file"

# --- connection and privileges -------------------------------------------------
check 78 --table t --column public_id --dsn "host=x bogus_option=1"
err_is '--dsn: .*bogus_option' "malformed dsn (78)"
check 1 --table t --column public_id --dsn "host=$WORK/nowhere dbname=x"
err_is 'cannot connect to the database' "unreachable server (1)"

check 78 --table t --column public_id --dsn "user=nb_limited"
err_is 'role "nb_limited" may not update column "public_id" of "public"\."t"' "no UPDATE privilege (78)"
psqlc "GRANT UPDATE (public_id) ON t TO nb_limited"
check 78 --table t --column public_id --dsn "user=nb_limited"
err_is 'role "nb_limited" may not create the progress schema "nanoid_backfill"' "no CREATE on the database (78)"
psqlc "CREATE SCHEMA nb_shared AUTHORIZATION postgres; GRANT USAGE ON SCHEMA nb_shared TO nb_limited"
check 78 --table t --column public_id --dsn "user=nb_limited" --progress-schema nb_shared
err_is 'role "nb_limited" may not create the progress tables in schema "nb_shared"' "no CREATE on the progress schema (78)"
psqlc "GRANT CREATE ON SCHEMA nb_shared TO nb_limited"
check 0 --table t --column public_id --dsn "user=nb_limited" --progress-schema nb_shared
assert_file_match "$WORK/assert.out" "$OK_RE" "column privileges and a writable progress schema: OK"

# --- nothing was written -----------------------------------------------------
assert_sql "SELECT count(*) FROM pg_namespace WHERE nspname = 'nanoid_backfill'" 0 \
	"no nanoid_backfill schema after every check"
assert_sql "SELECT count(*) FROM pg_class WHERE relnamespace = 'nb_shared'::regnamespace" 0 \
	"nothing created in the progress schema"
assert_sql "SELECT count(*) FROM t WHERE public_id IS NOT NULL" 0 "no row of t filled"
assert_eq "$(table_versions t)" "$V0" "no row of t even touched"

# --- a job name already used for another target ----------------------------------
run_bf --table t2 --column public_id --job shared --until-done
assert_eq "$RC" 0 "t2 filled under job 'shared'"
check 78 --table t --column public_id --job shared
err_is 'job "shared" already exists for "public"\."t2"\."public_id" with key \(id\); choose another --job' \
	"job name taken by another target (78)"
check 0 --table t2 --column public_id --job shared
assert_file_match "$WORK/assert.out" '^configuration OK: "public"\."t2"\."public_id" by key \(id\); job "shared"' \
	"the job's own target: OK"
check 0 --table t2 --column public_id --job shared --until-done
assert_file_match "$WORK/assert.out" '^configuration OK: "public"\."t2"\."public_id" in physical order \(--until-done: ' \
	"with --until-done it names the one-shot run's walk"
check 0 --table t --column public_id
assert_file_match "$WORK/assert.out" "$OK_RE" "with the progress tables in place: OK"
psqlc "GRANT USAGE ON SCHEMA nanoid_backfill TO nb_limited; GRANT SELECT ON ALL TABLES IN SCHEMA nanoid_backfill TO nb_limited"
check 78 --table t --column public_id --dsn "user=nb_limited"
err_is 'role "nb_limited" may not write the progress tables in schema "nanoid_backfill"' \
	"read-only progress tables (78)"
assert_eq "$(table_versions t)" "$V0" "t still untouched"

finish
