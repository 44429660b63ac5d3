#!/usr/bin/env bash
# verify: counts NULL, duplicate and malformed values and prints a summary.
# Exit codes: 0 clean, 65 not clean, 1 could not check, 64 usage, 78 no such
# table or column. It finds a planted NULL, a planted duplicate and a planted
# malformed value (each named in the summary), honours --size/--alphabet/
# --prefix, is clean otherwise, and writes nothing.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

pg_start

psqlf <<'SQL'
CREATE TABLE t (id bigint PRIMARY KEY, payload text, public_id text);
INSERT INTO t SELECT i, 'p' || i, NULL FROM generate_series(1, 10000) i;
ANALYZE t;
SQL
run_bf --table t --column public_id --until-done
assert_eq "$RC" 0 "backfill: exit 0"
versions=$(table_versions t)

# line LABEL: the summary line "  LABEL: ..." of the last run, squeezed.
line() { grep -E "^  $1:" "$OUT" | tr -s ' ' | sed 's/^ //'; }

run_bf verify --table t --column public_id
assert_eq "$RC" 0 "clean: exit 0"
assert_eq "$(tail -n 1 "$OUT")" clean "clean: last line says clean"
assert_eq "$(head -n 1 "$OUT")" 'verify "public"."t"."public_id": 10000 rows' "clean: first line names the target and rows"
assert_eq "$(line NULL)" "NULL: 0" "clean: no NULL"
assert_eq "$(line duplicates)" "duplicates: 0 values (0 rows)" "clean: no duplicate"
assert_eq "$(line malformed)" "malformed: 0" "clean: nothing malformed"
assert_eq "$(line 'NOT NULL')" "NOT NULL: no" "clean: reports the column is nullable"
assert_eq "$(line 'unique index')" "unique index: none" "clean: reports no unique index"
[[ ! -s $ERR ]] || fail "clean: stderr is not empty: $(head -c 300 "$ERR")"
pass "clean: nothing on stderr"
assert_eq "$(table_versions t)" "$versions" "verify wrote nothing"

# Planted problems, one at a time, then all at once.
id1=$(psqlc "SELECT public_id FROM t WHERE id = 1")
psqlc "UPDATE t SET public_id = NULL WHERE id = 500"
run_bf verify --table t --column public_id
assert_eq "$RC" 65 "planted NULL: exit 65"
assert_eq "$(line NULL)" "NULL: 1" "planted NULL: counted"
assert_match "$(tail -n 1 "$OUT")" '^not clean: 1 NULL, 0 duplicate values, 0 malformed$' "planted NULL: last line"
run_bf --table t --column public_id --until-done

psqlc "UPDATE t SET public_id = '$id1' WHERE id = 600"
run_bf verify --table t --column public_id
assert_eq "$RC" 65 "planted duplicate: exit 65"
assert_eq "$(line duplicates)" "duplicates: 1 value (2 rows): '$id1' (2 rows)" "planted duplicate: counted and named"
assert_eq "$(line NULL)" "NULL: 0" "planted duplicate: no NULL"
psqlc "UPDATE t SET public_id = NULL WHERE id = 600"
run_bf --table t --column public_id --until-done

psqlc "UPDATE t SET public_id = 'not a nanoid!' WHERE id = 700"
run_bf verify --table t --column public_id
assert_eq "$RC" 65 "planted malformed value: exit 65"
assert_eq "$(line malformed)" "malformed: 1: 'not a nanoid!'" "planted malformed value: counted and named"
# Right length, one symbol outside the alphabet.
psqlc "UPDATE t SET public_id = 'aaaaaaaaaaaaaaaaaaaa~' WHERE id = 700"
run_bf verify --table t --column public_id
assert_eq "$RC" 65 "21 characters with a foreign symbol: exit 65"
assert_eq "$(line malformed)" "malformed: 1: 'aaaaaaaaaaaaaaaaaaaa~'" "21 characters with a foreign symbol: named"
# A control character is shown escaped, on the summary's one line.
psqlc "UPDATE t SET public_id = E'line\\nbreak' WHERE id = 700"
run_bf verify --table t --column public_id
assert_eq "$RC" 65 "value with a newline: exit 65"
assert_eq "$(line malformed)" "malformed: 1: 'line\\x0abreak'" "value with a newline: shown as \\x0a"

psqlf <<SQL
UPDATE t SET public_id = NULL WHERE id IN (800, 801);
UPDATE t SET public_id = '$id1' WHERE id = 802;
UPDATE t SET public_id = 'dup-two' WHERE id IN (803, 804, 805);
SQL
run_bf verify --table t --column public_id
assert_eq "$RC" 65 "everything planted: exit 65"
assert_eq "$(line NULL)" "NULL: 2" "everything planted: 2 NULL"
assert_eq "$(line duplicates)" "duplicates: 2 values (5 rows): 'dup-two' (3 rows), '$id1' (2 rows)" \
	"everything planted: duplicates, most frequent first"
assert_eq "$(line malformed)" "malformed: 4: 'dup-two', 'dup-two', 'dup-two', 'line\\x0abreak'" \
	"everything planted: 4 malformed"
assert_eq "$(tail -n 1 "$OUT")" "not clean: 2 NULL, 2 duplicate values, 4 malformed" "everything planted: last line"

# Size, alphabet and prefix.
psqlf <<'SQL'
CREATE TABLE t2 (id int PRIMARY KEY, public_id text);
INSERT INTO t2 SELECT i, NULL FROM generate_series(1, 2000) i;
SQL
# 24 symbols of 5: 2,000 ids never collide by chance (10 did, 1 run in 5)
run_bf --table t2 --column public_id --until-done --size 24 --alphabet "ab'%_" --prefix usr_
assert_eq "$RC" 0 "t2 backfill with --size/--alphabet/--prefix: exit 0"
run_bf verify --table t2 --column public_id --size 24 --alphabet "ab'%_" --prefix usr_
assert_eq "$RC" 0 "t2 verified with the same options: clean"
assert_eq "$(line expected)" "expected: \"usr_\" then 24 symbols of \"ab'%_\"" "t2: the summary shows the expected form"
run_bf verify --table t2 --column public_id
assert_eq "$RC" 65 "t2 verified with the default options: not clean"
assert_eq "$(line malformed | cut -d: -f1-2)" "malformed: 2000" "t2 with the default options: every value malformed"
psqlc "UPDATE t2 SET public_id = 'usr_abab' WHERE id = 1"
run_bf verify --table t2 --column public_id --size 24 --alphabet "ab'%_" --prefix usr_
assert_eq "$(line malformed)" "malformed: 1: 'usr_abab'" "t2: too short is malformed"

# After finalize the summary says so.
psqlc "UPDATE t2 SET public_id = NULL WHERE id = 1"
run_bf --table t2 --column public_id --until-done --size 24 --alphabet "ab'%_" --prefix usr_ --finalize
assert_eq "$RC" 0 "t2: --finalize exit 0"
run_bf verify --table t2 --column public_id --size 24 --alphabet "ab'%_" --prefix usr_
assert_eq "$RC" 0 "t2 finalized: clean"
assert_eq "$(line 'NOT NULL')" "NOT NULL: yes" "t2 finalized: NOT NULL reported"
assert_eq "$(line 'unique index')" "unique index: t2_public_id_key" "t2 finalized: the unique index reported"

# Hostile names.
psqlf <<'SQL'
CREATE SCHEMA "Sch ""q""";
CREATE TABLE "Sch ""q"""."T; x" (id int PRIMARY KEY, "Col'1" text);
INSERT INTO "Sch ""q"""."T; x" VALUES (1, NULL), (2, 'V1StGXR8_Z5jdHi6B-myT');
SQL
run_bf verify --schema 'Sch "q"' --table 'T; x' --column "Col'1"
assert_eq "$RC" 65 "hostile names: exit 65 (one NULL)"
assert_eq "$(line NULL)" "NULL: 1" "hostile names: the NULL is found"

# Exit codes for bad input: one stderr line each, nothing on stdout.
bad() {
	local want=$1 phrase=$2
	shift 2
	run_bf verify "$@"
	assert_eq "$RC" "$want" "verify $*: exit $want"
	assert_eq "$(grep -c '' "$ERR")" 1 "verify $*: one stderr line"
	assert_file_match "$ERR" "$NB_ERR_RE.*$phrase" "verify $*: says /$phrase/"
	[[ ! -s $OUT ]] || fail "verify $*: stdout not empty"
}
bad 78 'does not exist' --table nope --column public_id
bad 78 'does not exist' --table t --column nope
bad 64 'table' --column public_id
bad 78 'alphabet' --table t --column public_id --alphabet aa
bad 1 'connect' --table t --column public_id --dsn 'dbname=nope'

finish
